/**
 * KCP + smux over a lossy, delaying, reordering packet link: bulk data on several
 * concurrent streams must arrive intact.
 */
import { dialKcp, type KcpOptions, listenKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { LossyPacketConn, memoryPacketPair } from "../../lib/net/mod.ts";
import {
  SmuxSession,
  type SmuxStream,
  SNOWFLAKE_SMUX_CLIENT,
  SNOWFLAKE_SMUX_SERVER,
} from "../../lib/smux/mod.ts";
import { assertEquals } from "../../lib/testing/assert.ts";
import { hex, readExactly, receiveAll, sendRandom } from "./util.ts";

const STREAMS = 8;
const TOTAL = 20 * 1024 * 1024;
const IMPAIRMENT = { loss: 0.1, delayMs: 50, jitterMs: 5, reorder: 0.05 };

// Tuning a kcp-go peer also accepts (docs/PROTOCOL.md §3): nodelay with fast resend, so a lossy
// link recovers in about one RTT instead of a 100 ms+ RTO; Snowflake's windows and MTU.
// Both runs print their time and retransmissions.
const FAST_KCP: KcpOptions = {
  nodelay: 1,
  interval: 10,
  resend: 2,
  nc: 1,
  sndWnd: 65535,
  rcvWnd: 65535,
  mtu: 1400,
  stream: true,
};

Deno.test({
  name: "lossy: 20 MB over 8 smux streams on KCP with 10% loss, 50 ms delay, reordering",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => lossyTransfer(FAST_KCP, "fast resend"),
});

Deno.test({
  name: "lossy: the same 20 MB with Snowflake's own KCP settings, NoDelay(0, 10, 0, 1)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => lossyTransfer(SNOWFLAKE_KCP, "Snowflake settings"),
});

async function lossyTransfer(kcpOptions: KcpOptions, label: string): Promise<void> {
  const [a, b] = memoryPacketPair(8192);
  const clientLink = new LossyPacketConn(a, IMPAIRMENT);
  const serverLink = new LossyPacketConn(b, IMPAIRMENT);
  const listener = listenKcp(serverLink, kcpOptions);
  const kcpClient = dialKcp(clientLink, b.localAddr, kcpOptions);
  const client = new SmuxSession(kcpClient, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  const started = performance.now();
  try {
    const server = (async () => {
      const kcpServer = await listener.accept();
      const smux = new SmuxSession(kcpServer, { client: false, config: SNOWFLAKE_SMUX_SERVER });
      const served: Promise<void>[] = [];
      for (let i = 0; i < STREAMS; i++) {
        const s = await smux.acceptStream();
        served.push(serveDigest(s));
      }
      await Promise.all(served);
    })();
    const per = TOTAL / STREAMS;
    const results = await Promise.all(
      Array.from({ length: STREAMS }, async () => {
        const s = await client.openStream();
        const w = s.writable.getWriter();
        const sent = await sendRandom(w, per);
        await w.close(); // FIN: the server hashes what it got and answers
        const got = hex(await readExactly(s.readable.getReader(), 36));
        s.close();
        return { sent, got };
      }),
    );
    await server;
    for (const { sent, got } of results) assertEquals(got, `${sent}${hex(u32(per))}`);
    const secs = (performance.now() - started) / 1000;
    const st = kcpClient.engine.stats;
    console.log(
      `lossy (${label}): ${TOTAL / 1048576} MiB in ${secs.toFixed(1)} s = ` +
        `${(TOTAL / 1048576 / secs).toFixed(2)} MiB/s; dropped ${clientLink.dropped}+` +
        `${serverLink.dropped} packets; client sent ${st.segsSent} segments + ` +
        `${st.rtoRetrans} RTO + ${st.fastRetrans} loss-detected retransmissions`,
    );
  } finally {
    client.close();
    listener.close();
  }
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Reads a stream to EOF and answers with sha256 (32 bytes) + byte count (u32 BE). */
async function serveDigest(s: SmuxStream): Promise<void> {
  const { bytes, sha256 } = await receiveAll(s.readable);
  const w = s.writable.getWriter();
  const digest = new Uint8Array(36);
  digest.set(sha256.match(/../g)!.map((x) => parseInt(x, 16)));
  digest.set(u32(bytes), 32);
  await w.write(digest);
  await w.close();
}
