/**
 * Small KCP windows against Debian's kcptun, both directions: our sender must
 * refill its window as acknowledgements arrive (as kcp-go does), not once per
 * interval. A kcptun receiver acknowledges once per interval by default, which
 * caps every sender (kcptun's own too) at one window per 10 ms, so our sender
 * is also measured against a kcptun-server with ackNoDelay. Throughput is
 * printed beside kcptun<->kcptun; the assertions are that every transfer
 * completes with its bytes intact.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { freeTcpPort, freeUdpPort, sha256Hex } from "../../lib/testing/util.ts";
import { HostPortAddr, UdpPacketConn } from "../../lib/net/mod.ts";
import { dialKcp, type KcpStats, listenKcp } from "../../lib/kcp/mod.ts";
import { SmuxSession } from "../../lib/smux/mod.ts";
import {
  connectRetry,
  hashStream,
  KCPTUN_KCP,
  KCPTUN_SMUX,
  kcptunAckNoDelayArgs,
  kcptunAvailable,
  type Proc,
  startKcptunClient,
  startKcptunServer,
  writeAndClose,
} from "./kcptun_util.ts";

const BYTES = 8_000_000;
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !kcptunAvailable() };
const data = seededBytes(BYTES, 0x51d3);
const hash = await sha256Hex(data);

interface Result {
  mbps: number;
  sender?: KcpStats;
}

function windowFlags(wnd: number): Record<string, string> {
  return { "--sndwnd": `${wnd}`, "--rcvwnd": `${wnd}` };
}

/** A TCP sink that hashes the first connection it accepts. */
function tcpSink(): { port: number; result: Promise<{ hash: string; bytes: number }> } {
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = (async () => {
    const conn = await sink.accept();
    sink.close();
    return await hashStream(conn.readable);
  })();
  return { port: (sink.addr as Deno.NetAddr).port, result };
}

/** Writes `data` to a TCP port (kcptun-client's) and half-closes. */
async function sendTcp(port: number): Promise<Deno.TcpConn> {
  const conn = await connectRetry(port);
  const w = conn.writable.getWriter();
  for (let o = 0; o < BYTES; o += 65536) await w.write(data.subarray(o, o + 65536));
  w.releaseLock();
  await conn.closeWrite();
  return conn;
}

function check(got: { hash: string; bytes: number }, t0: number): number {
  assertEquals(got.bytes, BYTES);
  assertEquals(got.hash, hash);
  return BYTES / ((performance.now() - t0) / 1000) / 1e6;
}

/** Our KCP+smux client sends through kcptun-server to a TCP sink. */
async function oursToKcptun(wnd: number, serverArgs: string[]): Promise<Result> {
  const sink = tcpSink();
  const kcpPort = freeUdpPort();
  const server = startKcptunServer(kcpPort, sink.port, serverArgs, windowFlags(wnd));
  const udp = UdpPacketConn.listen();
  let smux: SmuxSession | null = null;
  try {
    await new Promise((r) => setTimeout(r, 300)); // let kcptun bind
    const t0 = performance.now();
    const kcp = dialKcp(udp, new HostPortAddr("udp", "127.0.0.1", kcpPort), {
      ...KCPTUN_KCP,
      sndWnd: wnd,
      rcvWnd: wnd,
    });
    smux = new SmuxSession(kcp, { client: true, config: KCPTUN_SMUX });
    const stream = await smux.openStream();
    await writeAndClose(stream.writable, data);
    const mbps = check(await sink.result, t0);
    return { mbps, sender: { ...kcp.engine.stats } };
  } finally {
    smux?.close();
    udp.close();
    await server.stop();
  }
}

/** kcptun-client sends to our KCP listener + smux server. */
async function kcptunToOurs(wnd: number): Promise<Result> {
  const udp = UdpPacketConn.listen();
  const listener = listenKcp(udp, { ...KCPTUN_KCP, sndWnd: wnd, rcvWnd: wnd });
  const tcpPort = freeTcpPort();
  let client: Proc | null = null;
  const sessions: SmuxSession[] = [];
  try {
    client = startKcptunClient(tcpPort, udp.localAddr.toString(), windowFlags(wnd));
    const received = (async () => {
      const smux = new SmuxSession(await listener.accept(), {
        client: false,
        config: KCPTUN_SMUX,
      });
      sessions.push(smux);
      return await hashStream((await smux.acceptStream()).readable);
    })();
    const t0 = performance.now();
    const conn = await sendTcp(tcpPort);
    const mbps = check(await received, t0);
    conn.close();
    return { mbps };
  } finally {
    for (const s of sessions) s.close();
    listener.close();
    await client?.stop();
  }
}

/** kcptun-client -> kcptun-server with the same window: the reference. */
async function kcptunToKcptun(wnd: number, serverArgs: string[]): Promise<Result> {
  const sink = tcpSink();
  const udpPort = freeUdpPort();
  const tcpPort = freeTcpPort();
  const server = startKcptunServer(udpPort, sink.port, serverArgs, windowFlags(wnd));
  const client = startKcptunClient(tcpPort, `127.0.0.1:${udpPort}`, windowFlags(wnd));
  try {
    const t0 = performance.now();
    const conn = await sendTcp(tcpPort);
    const mbps = check(await sink.result, t0);
    conn.close();
    return { mbps };
  } finally {
    await server.stop();
    await client.stop();
  }
}

for (const wnd of [32, 64, 128]) {
  Deno.test({
    name: `interop:kcptun-windows ${wnd}-segment windows, 8 MB each way and kcptun<->kcptun`,
    ...opts,
    fn: async () => {
      const ackNoDelay = kcptunAckNoDelayArgs();
      try {
        const send = await oursToKcptun(wnd, []);
        const sendNd = await oursToKcptun(wnd, ackNoDelay);
        const recv = await kcptunToOurs(wnd);
        const ref = await kcptunToKcptun(wnd, []);
        const refNd = await kcptunToKcptun(wnd, ackNoDelay);
        const mb = (r: Result) => `${r.mbps.toFixed(1)} MB/s`;
        console.log(
          `window ${wnd} (one window per 10 ms = ${(wnd * 1356 / 0.01 / 1e6).toFixed(1)} MB/s):\n` +
            `  sending to kcptun-server: ours ${mb(send)}, kcptun-client ${mb(ref)}\n` +
            `  sending to kcptun-server with ackNoDelay: ours ${mb(sendNd)}, ` +
            `kcptun-client ${mb(refNd)}\n` +
            `  receiving from kcptun-client: ${mb(recv)}`,
        );
        for (const r of [send, sendNd]) {
          const s = r.sender!;
          console.log(
            `  our sender: ${s.segsSent} segments, ${s.rtoRetrans} RTO + ${s.fastRetrans} ` +
              `loss-detected retransmissions, ${s.packetsOut} packets`,
          );
          assert(s.segsSent >= BYTES / 1400);
        }
      } finally {
        Deno.removeSync(ackNoDelay[1]!);
      }
    },
  });
}
