import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { AsyncQueue, DEFAULT_QUEUE_CAPACITY } from "./queue.ts";
import { ClosedError } from "./errors.ts";
import type { Conn } from "./types.ts";
import { dialWebSocket, READ_QUEUE_FULL, webSocketConn } from "./websocket.ts";
import { freeTcpPort } from "../testing/util.ts";

/** A local WebSocket server that hands each accepted socket, as a Conn, to `onConn`. */
function serve(onConn: (conn: Conn) => void) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    onConn(webSocketConn(socket));
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}/`, server };
}

async function readAll(conn: Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let have = 0;
  const reader = conn.readable.getReader();
  while (have < n) {
    const { value, done } = await reader.read();
    if (done) break;
    out.set(value, have);
    have += value.length;
  }
  reader.releaseLock();
  assertEquals(have, n);
  return out;
}

Deno.test("websocket: echoes 4 MiB through both adapters and closes cleanly", async () => {
  const { url, server } = serve((conn) => {
    conn.readable.pipeTo(conn.writable).catch(() => {});
  });
  const conn = await dialWebSocket(url);
  const data = new Uint8Array(4 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const writer = conn.writable.getWriter();
  const writing = (async () => {
    for (let off = 0; off < data.length; off += 50_000) {
      await writer.write(data.subarray(off, off + 50_000));
    }
  })();
  const back = await readAll(conn, data.length);
  await writing;
  assert(back.every((b, i) => b === data[i]), "echo differs");
  await writer.close();
  const reader = conn.readable.getReader();
  assert((await reader.read()).done, "readable ends after close");
  await assertRejects(() => writer.write(new Uint8Array(1)));
  await server.shutdown();
});

Deno.test("websocket: a server-side close ends the client's readable; writes then reject", async () => {
  const { url, server } = serve((conn) => {
    const w = conn.writable.getWriter();
    w.write(new TextEncoder().encode("bye")).then(() => w.close());
  });
  const conn = await dialWebSocket(url);
  const reader = conn.readable.getReader();
  const first = await reader.read();
  assertEquals(new TextDecoder().decode(first.value), "bye");
  assert((await reader.read()).done, "EOF after server close");
  await assertRejects(() => conn.writable.getWriter().write(new Uint8Array(1)), ClosedError);
  await server.shutdown();
});

Deno.test("websocket: dialing a closed port rejects", async () => {
  const port = freeTcpPort();
  await assertRejects(() => dialWebSocket(`ws://127.0.0.1:${port}/`));
});

Deno.test("bounds: a reader that falls behind the read high-water mark loses the connection", async () => {
  const { url, server } = serve((conn) => {
    const w = conn.writable.getWriter();
    (async () => {
      for (let i = 0; i < 64; i++) await w.write(new Uint8Array(64 * 1024));
    })().catch(() => {});
  });
  const conn = await dialWebSocket(url, { readHighWaterMark: 256 * 1024 });
  let guard: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    new Promise<string>((r) => conn.socket.addEventListener("close", (e) => r(`closed ${e.code}`))),
    new Promise<string>((r) => guard = setTimeout(() => r("still open"), 30_000)),
  ]);
  clearTimeout(guard);
  assertEquals(outcome, `closed ${READ_QUEUE_FULL}`);
  await assertRejects(() => conn.readable.getReader().read(), RangeError);
  await server.shutdown();
});

Deno.test("bounds: every AsyncQueue is finite", () => {
  const q = new AsyncQueue<number>();
  let accepted = 0;
  for (let i = 0; i < 100_000; i++) if (q.push(i)) accepted++;
  assertEquals(accepted, DEFAULT_QUEUE_CAPACITY);
  assertThrows(() => new AsyncQueue(Infinity), RangeError);
});
