/**
 * `proxy:` a relay read cancelled while the relay is still sending (a client gone mid-download:
 * the data channel's write fails and the pipe cancels the relay's readable) leaves no uncaught
 * error behind, with Deno's `WebSocketStream` (proxy/relay/relay_dial.ts) and with the plain
 * WebSocket Conn (lib/net/websocket.ts). Either used to end the proxy now and then.
 */
import { assert } from "../../lib/testing/assert.ts";
import type { Conn } from "../../lib/net/types.ts";
import { dialWebSocket } from "../../lib/net/websocket.ts";
import { dialRelay } from "../../proxy/relay/relay_dial.ts";

/** A relay that sends 64 KiB messages as fast as each socket takes them. */
function floodingRelay() {
  const block = new Uint8Array(65536);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => {
      const pump = () => {
        if (socket.readyState !== WebSocket.OPEN) return;
        while (socket.bufferedAmount < 1 << 20) socket.send(block);
        setTimeout(pump, 1);
      };
      pump();
    };
    socket.onerror = () => {};
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}/`, server };
}

async function cancelMidStream(dial: (url: string) => Promise<Conn>) {
  const relay = floodingRelay();
  try {
    for (let i = 0; i < 60; i++) {
      const conn = await dial(relay.url);
      let n = 0;
      const limit = (i % 7) * 100_000 + 1;
      const failing = new WritableStream<Uint8Array>({
        write(chunk) {
          n += chunk.byteLength;
          if (n > limit) throw new Error("data channel closed");
        },
      });
      await conn.readable.pipeTo(failing).catch(() => {});
      conn.close();
      assert(n > limit);
    }
    // Late events of the last sockets land here, inside the test.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await relay.server.shutdown();
  }
}

Deno.test({
  name: "proxy: a relay WebSocketStream cancelled mid-stream leaves no uncaught error",
  ignore: !("WebSocketStream" in globalThis),
  fn: () => cancelMidStream((url) => dialRelay(url, new AbortController().signal)),
});

Deno.test(
  "proxy: a plain relay WebSocket cancelled mid-stream leaves no uncaught error",
  () => cancelMidStream((url) => dialWebSocket(url, { signal: new AbortController().signal })),
);

Deno.test("proxy: the stop signal reaches a relay WebSocketStream only while it opens", async () => {
  const signals: AbortSignal[] = [];
  class FakeStream {
    readonly opened = Promise.resolve({
      readable: new ReadableStream<ArrayBuffer | string>(),
      writable: new WritableStream<Uint8Array>(),
    });
    readonly closed = new Promise<unknown>(() => {});
    constructor(_url: string, options?: { signal?: AbortSignal }) {
      signals.push(options!.signal!);
    }
    close() {}
  }
  const stop = new AbortController();
  const conn = await dialRelay("ws://relay.example/", stop.signal, 10_000, FakeStream);
  conn.close();
  stop.abort();
  assert(!signals[0]!.aborted, "an open socket's signal is left alone");
  const stopped = new AbortController();
  stopped.abort();
  await dialRelay("ws://relay.example/", stopped.signal, 10_000, FakeStream);
  assert(signals[1]!.aborted, "a stop before it opens aborts the opening");
});
