import { dialKcp, SNOWFLAKE_KCP } from "../kcp/mod.ts";
import { type KcpListener, listenKcp } from "../kcp/mod.ts";
import { type Conn, type MemoryConn, memoryConnPair, NamedAddr } from "../net/mod.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { serveCarrier } from "./carrier.ts";
import { ClientID } from "./client_id.ts";
import { HEADER_LENGTH } from "./carrier_parser.ts";
import { TOKEN } from "./client_id.ts";
import { MultiplexingPacketConn } from "./multiplexing_packet_conn.ts";
import { QueuePacketConn } from "./queue_packet_conn.ts";

const remote = new NamedAddr("turbotunnel", "server");

/**
 * A server QueuePacketConn; each dial is a proxy twin (named p1, p2, ...) relaying between
 * two memory pairs, which {@link freeze} turns into a black hole: nothing relayed, nothing
 * closed (a killed proxy as the client sees it).
 */
function serverAndDialer() {
  const server = new QueuePacketConn(remote, { autoSweep: false });
  const frozen: boolean[] = [];
  const relay = async (
    from: ReadableStream<Uint8Array>,
    to: WritableStream<Uint8Array>,
    n: number,
  ) => {
    const w = to.getWriter();
    try {
      for await (const chunk of from) if (!frozen[n]) await w.write(chunk);
    } catch {
      // the twin's conns were closed
    }
  };
  return {
    server,
    dials: () => frozen.length,
    freeze: (n: number) => void (frozen[n] = true),
    dial: (_signal: AbortSignal): Promise<Conn> => {
      const n = frozen.length;
      frozen.push(false);
      const [client, proxyIn] = memoryConnPair();
      const [proxyOut, srv] = memoryConnPair();
      void serveCarrier(srv, (id) => server.endpoint(id));
      void relay(proxyIn.readable, proxyOut.writable, n);
      void relay(proxyOut.readable, proxyIn.writable, n);
      return Promise.resolve({
        readable: client.readable,
        writable: client.writable,
        localAddr: client.localAddr,
        remoteAddr: new NamedAddr("memory", `p${n + 1}`),
        close: () => {
          client.close();
          proxyOut.close();
        },
      });
    },
  };
}

/** Counts the bytes of the first accepted KCP connection, up to `total`. */
async function bytesReceived(listener: KcpListener, total: number): Promise<number> {
  const conn = await listener.accept();
  const r = conn.readable.getReader();
  let n = 0;
  while (n < total) {
    const { value, done } = await r.read();
    if (done) break;
    n += value.length;
  }
  return n;
}

Deno.test("multipath: every carrier starts with the token and the same ClientID", async () => {
  const id = ClientID.random();
  const conns: MemoryConn[] = [];
  const m = new MultiplexingPacketConn(id, remote, (_s) => {
    const [c, s] = memoryConnPair();
    conns.push(s);
    return Promise.resolve(c);
  }, { paths: 3 });
  while (conns.length < 3) await new Promise((r) => setTimeout(r, 5));
  for (const s of conns) {
    const r = s.readable.getReader();
    let got = new Uint8Array(0);
    while (got.length < HEADER_LENGTH) {
      const { value } = await r.read();
      got = new Uint8Array([...got, ...value!]);
    }
    assertEquals(got.subarray(0, 8), TOKEN);
    assertEquals(got.subarray(8, HEADER_LENGTH), id.bytes);
    r.releaseLock();
  }
  m.close();
  await m.done;
});

Deno.test("multipath: a KCP session stripes over 3 carriers and survives one black-holed", async () => {
  const d = serverAndDialer();
  const logs: string[] = [];
  const m = new MultiplexingPacketConn(ClientID.random(), remote, d.dial, {
    paths: 3,
    retryDelayMs: 0,
    log: (l) => logs.push(l),
  });
  const listener = listenKcp(d.server, SNOWFLAKE_KCP);
  const client = dialKcp(m, remote, { ...SNOWFLAKE_KCP, nodelay: 1, interval: 10 });
  const total = 3_000_000;
  const echo = bytesReceived(listener, total);
  const w = client.writable.getWriter();
  const chunk = new Uint8Array(16_384);
  let froze = false;
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (sent >= total / 2 && d.dials() === 3 && !froze) {
      froze = true;
      // Carrier 1 becomes a black hole.
      assertEquals(m.live, 3);
      const shares = m.monitor.paths().map((p) => p.bytesOut);
      assert(shares.every((b) => b > 0), `every path carried data: ${shares}`);
      d.freeze(0);
    }
    await w.write(chunk.subarray(0, Math.min(chunk.length, total - sent)));
    // Paced after the freeze, so that the transfer outlasts the 1 s death deadline.
    if (sent >= total / 2) await new Promise((r) => setTimeout(r, 25));
  }
  assertEquals(await echo, total);
  assert(m.failovers >= 1, logs.join("\n"));
  assert(logs.some((l) => /failover: proxy p1 has made no progress/.test(l)), logs.join("\n"));
  assert(d.dials() >= 4, "a replacement was dialed");
  client.close();
  listener.close();
  m.close();
  d.server.close();
  await m.done;
});

Deno.test("multipath: all paths silent at once brings a spare, then `paths` carriers again", async () => {
  const d = serverAndDialer();
  const logs: string[] = [];
  const m = new MultiplexingPacketConn(ClientID.random(), remote, d.dial, {
    paths: 2,
    retryDelayMs: 0,
    dialSpare: d.dial,
    log: (l) => logs.push(l),
  });
  const listener = listenKcp(d.server, SNOWFLAKE_KCP);
  const client = dialKcp(m, remote, { ...SNOWFLAKE_KCP, nodelay: 1, interval: 10 });
  const total = 1_000_000;
  const echo = bytesReceived(listener, total);
  const w = client.writable.getWriter();
  const chunk = new Uint8Array(16_384);
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (sent >= total / 2 && d.dials() === 2) {
      assertEquals(m.spares, 0, "no spare while the paths progress");
      d.freeze(0);
      d.freeze(1);
    }
    await w.write(chunk.subarray(0, Math.min(chunk.length, total - sent)));
    await new Promise((r) => setTimeout(r, 10));
  }
  assertEquals(await echo, total);
  assertEquals(m.spares, 1, logs.join("\n"));
  assert(logs.some((l) => /failover: all 2 proxies silent/.test(l)), logs.join("\n"));
  // The frozen paths are closed by the death rule; one of them is not redialed. (The echo may
  // end before the next check notices that the session moves again.)
  const deadline = Date.now() + 10_000;
  while (m.failovers < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  assert(logs.some((l) => /failover: the session moves again/.test(l)), logs.join("\n"));
  assertEquals(m.live, 2, logs.join("\n"));
  client.close();
  listener.close();
  m.close();
  d.server.close();
  await m.done;
});
