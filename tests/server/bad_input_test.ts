import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Logger } from "../../lib/log/mod.ts";
import { encodePacket } from "../../lib/encapsulation/mod.ts";
import { TOKEN } from "../../lib/turbotunnel/mod.ts";
import { SnowflakeServer } from "../../server/server.ts";
import { connectClient, echoThrough, startEcho } from "./ws_client.ts";
import { randomBytes } from "../../lib/testing/util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Opens a raw WebSocket, sends `messages`, resolves when the server closes it. */
async function sendAndWaitClose(url: string, messages: (Uint8Array | string)[]): Promise<void> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((r) => (ws.onopen = r));
  const closed = new Promise((r) => (ws.onclose = r));
  for (const m of messages) ws.send(m as Uint8Array<ArrayBuffer>);
  await closed;
}

const header = (id = randomBytes(8)) => new Uint8Array([...TOKEN, ...id]);

Deno.test(
  "fuzz:server: bad input is closed and counted, and the server keeps serving",
  opts,
  async () => {
    const echo = startEcho();
    const server = new SnowflakeServer({
      target: {
        orAddr: { hostname: "127.0.0.1", port: echo.port },
        extendedOrAddr: null,
        cookie: null,
      },
      log: new Logger({ write: () => {} }),
      limits: { handshakeTimeoutMs: 300, idleTimeoutMs: 600, maxMessage: 256 * 1024 },
    });
    const addr = await server.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `ws://127.0.0.1:${addr.port}/`;
    const c = server.metrics.counters;
    try {
      const badToken = header();
      badToken[3]! ^= 0xff;
      await sendAndWaitClose(url, [badToken]);
      await sendAndWaitClose(url, [TOKEN.subarray(0, 3), new Uint8Array([0, 0, 0])]); // split, wrong
      await sendAndWaitClose(url, ["hello"]);
      await sendAndWaitClose(url, [header(), new Uint8Array([0xff, 0xff, 0xff, 0xff])]);
      // Declares a 1 MiB packet and keeps sending its body.
      await sendAndWaitClose(url, [
        header(),
        new Uint8Array([0xff, 0xff, 0x7f]),
        ...Array.from({ length: 3 }, () => new Uint8Array(40_000)),
      ]);
      await sendAndWaitClose(url, [header(), encodePacket(new Uint8Array(70_000))]);
      await sendAndWaitClose(url, [new Uint8Array(300 * 1024)]);
      await sendAndWaitClose(url, []); // half-open: never sends the header
      await sendAndWaitClose(url, [header()]); // then goes idle
      // A flood of small junk packets: dropped or rejected by KCP, never buffered without bound.
      const flood = new WebSocket(url);
      await new Promise((r) => (flood.onopen = r));
      flood.send(header());
      const junk = new Uint8Array(64 * 1024);
      for (let off = 0; off + 1400 <= junk.length; off += 1402) {
        junk.set(
          encodePacket(randomBytes(1400)),
          off,
        );
      }
      for (let i = 0; i < 2000; i++) flood.send(junk);
      flood.close();

      assertEquals(c.badToken, 2);
      assertEquals(c.textMessages, 1);
      assertEquals(c.badEncapsulation, 1);
      assertEquals(c.oversizePackets, 2);
      assertEquals(c.floodCloses, 1);
      assertEquals(c.handshakeTimeouts, 1);
      assertEquals(c.idleTimeouts, 1);

      const client = await connectClient(url);
      const data = randomBytes(200_000);
      assertEquals(await echoThrough(client, data), data);
      client.close();
      assert(c.packetsFromClients > 10_000, `packets ${c.packetsFromClients}`);
      assertEquals(server.metrics.gauges.connectionsActive <= 2, true);
      const text = server.renderMetrics();
      assert(text.includes("snowflake_server_bad_token_total 2"), text);
    } finally {
      await server.close();
      echo.close();
    }
  },
);
