/**
 * Interop with Debian's kcptun (xtaci/kcp-go v5 + smux v2), `--crypt none`
 * framing and Snowflake-like KCP settings, over UDP on loopback, both ways.
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { freeTcpPort, freeUdpPort, sha256Hex } from "../../lib/testing/util.ts";
import { HostPortAddr, UdpPacketConn } from "../../lib/net/mod.ts";
import { dialKcp, listenKcp } from "../../lib/kcp/mod.ts";
import { SmuxSession } from "../../lib/smux/mod.ts";
import {
  connectRetry,
  hashStream,
  KCPTUN_KCP,
  KCPTUN_SMUX,
  kcptunAvailable,
  type Proc,
  startKcptunClient,
  startKcptunServer,
  writeAndClose,
} from "./kcptun_util.ts";

const STREAMS = 8;
const TOTAL = 50_000_000;
const PER_STREAM = TOTAL / STREAMS;
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !kcptunAvailable() };

async function payloads(): Promise<{ data: Uint8Array<ArrayBuffer>[]; hashes: string[] }> {
  const data = Array.from({ length: STREAMS }, (_, i) => seededBytes(PER_STREAM, 0x9e37 + i));
  return { data, hashes: (await Promise.all(data.map((d) => sha256Hex(d)))).sort() };
}

Deno.test({
  name: "interop:kcptun our KCP+smux client -> kcptun-server -> TCP sink, 50 MB in 8 streams",
  ...opts,
  fn: async () => {
    const { data, hashes } = await payloads();
    const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const got: Promise<{ hash: string; bytes: number }>[] = [];
    const sinkDone = (async () => {
      for await (const conn of sink) {
        got.push(hashStream(conn.readable));
        if (got.length === STREAMS) break;
      }
    })();
    const kcpPort = freeUdpPort();
    let server: Proc | null = null;
    const udp = UdpPacketConn.listen();
    let smux: SmuxSession | null = null;
    try {
      server = startKcptunServer(kcpPort, (sink.addr as Deno.NetAddr).port);
      const kcp = dialKcp(udp, new HostPortAddr("udp", "127.0.0.1", kcpPort), KCPTUN_KCP);
      smux = new SmuxSession(kcp, { client: true, config: KCPTUN_SMUX });
      const streams = await Promise.all(data.map(() => smux!.openStream()));
      await Promise.all(streams.map((s, i) => writeAndClose(s.writable, data[i]!)));
      await sinkDone;
      const results = await Promise.all(got);
      assertEquals(results.map((r) => r.bytes), Array(STREAMS).fill(PER_STREAM));
      assertEquals(results.map((r) => r.hash).sort(), hashes);
    } finally {
      smux?.close();
      udp.close();
      try {
        sink.close(); // already closed if the loop above ended
      } catch { /* closed */ }
      await server?.stop();
    }
  },
});

Deno.test({
  name: "interop:kcptun kcptun-client -> our KCP listener + smux server, 50 MB in 8 streams",
  ...opts,
  fn: async () => {
    const { data, hashes } = await payloads();
    const udp = UdpPacketConn.listen();
    const listener = listenKcp(udp, KCPTUN_KCP);
    const tcpPort = freeTcpPort();
    let client: Proc | null = null;
    const sessions: SmuxSession[] = [];
    try {
      client = startKcptunClient(tcpPort, udp.localAddr.toString());
      const received = (async () => {
        const results: Promise<{ hash: string; bytes: number }>[] = [];
        while (results.length < STREAMS) {
          // kcptun-client may open more than one KCP session; serve each.
          const kcp = await listener.accept();
          const smux = new SmuxSession(kcp, { client: false, config: KCPTUN_SMUX });
          sessions.push(smux);
          (async () => {
            for (;;) {
              const stream = await smux.acceptStream();
              results.push(hashStream(stream.readable));
            }
          })().catch(() => {});
          while (results.length < STREAMS && !smux.isClosed) {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        return await Promise.all(results);
      })();
      const conns = await Promise.all(data.map(() => connectRetry(tcpPort)));
      await Promise.all(conns.map(async (c, i) => {
        const w = c.writable.getWriter();
        for (let o = 0; o < PER_STREAM; o += 65536) await w.write(data[i]!.subarray(o, o + 65536));
        w.releaseLock();
        await c.closeWrite();
      }));
      const results = await received;
      conns.forEach((c) => c.close());
      assertEquals(results.map((r) => r.bytes), Array(STREAMS).fill(PER_STREAM));
      assertEquals(results.map((r) => r.hash).sort(), hashes);
      assertEquals(listener.stats.badCrc, 0);
    } finally {
      for (const s of sessions) s.close();
      listener.close();
      await client?.stop();
    }
  },
});
