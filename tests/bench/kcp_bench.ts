/**
 * KCP+smux throughput and memory.
 *
 * 1. Raw Deno UDP baseline (1400-byte datagrams over loopback): the ceiling Deno allows.
 * 2. One stream, KCP+smux over UDP loopback: ours (this process dialing, a child Deno
 *    process serving) vs kcptun-client <-> kcptun-server with the same settings.
 *    MB/s, ratio, CPU-seconds per GB of both ends.
 * 3. KCP+smux in one process over the memory twin (target >= 200 MB/s); KCP alone in
 *    one process over UDP loopback, where both ends share one event loop and a sender
 *    that overshoots fills the receiver's socket buffer (segments sent per payload segment).
 * 4. 1,000 idle KCP+smux sessions: memory per session (target <= 64 KiB).
 * 5. Resume after a 30 s outage (virtual clock, RTT 40 ms): first acknowledgement
 *    after the carrier is back, with setPathUp and with only the peer's next packet.
 *
 * `deno run --unstable-net -A tests/bench/kcp_bench.ts [udp|ours|kcptun|memory|loopback|idle|resume]...`
 * (default: all) or `deno task bench kcp`.
 *
 * @module
 */
import process from "node:process";
import { HostPortAddr, memoryPacketPair, MemorySwitch, NamedAddr } from "../../lib/net/mod.ts";
import { UdpPacketConn } from "../../lib/net/udp.ts";
import { dialKcp, type KcpSession, listenKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT, SNOWFLAKE_SMUX_SERVER } from "../../lib/smux/mod.ts";
import { freeTcpPort, freeUdpPort } from "../../lib/testing/util.ts";
import {
  KCPTUN_KCP,
  KCPTUN_SMUX,
  kcptunAvailable,
  startKcptunClient,
  startKcptunServer,
} from "../interop/kcptun_util.ts";
import { DELAY, msToFirstAck, runOutage } from "../../lib/kcp/outage_sim.ts";

const MB = 1e6;
const CHUNK = new Uint8Array(32768);
/** kcptun's default --sockbuf; the kernel caps it at net.core.rmem_max. */
const SOCKET_BUFFER = 4 * 1024 * 1024;

/** utime+stime of a process in seconds, from /proc/<pid>/stat (clock ticks of 10 ms). */
function procCpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Child process role: sends 1400-byte datagrams to `port` for `seconds`, a few
 * in flight (Deno ops), or 512 per event-loop turn through UdpPacketConn's sendmmsg.
 */
async function udpSend(port: number, seconds: number, batched: boolean): Promise<void> {
  const packet = new Uint8Array(1400);
  const end = performance.now() + seconds * 1000;
  let sent = 0;
  if (batched) {
    const tx = UdpPacketConn.listen("127.0.0.1", 0, { socketBuffer: SOCKET_BUFFER, batch: {} });
    const to = new HostPortAddr("udp", "127.0.0.1", port);
    while (performance.now() < end) {
      for (let i = 0; i < 512; i++) tx.writeTo(packet, to);
      sent += 512 - tx.sendDrops;
      tx.sendDrops = 0;
      await new Promise((r) => setTimeout(r, 0));
    }
    tx.close();
  } else {
    const tx = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    while (performance.now() < end) {
      const batch = [];
      for (let i = 0; i < 16; i++) batch.push(tx.send(packet, to));
      await Promise.all(batch);
      sent += 16;
    }
    tx.close();
  }
  console.log(
    `  raw UDP sender (child Deno${batched ? ", sendmmsg" : ""}): ` +
      `${(sent / seconds / 1000).toFixed(1)}k datagrams/s sent`,
  );
}

/**
 * Deno's UDP ceiling: a child Deno process sends, this one receives and counts;
 * with Deno's ops, or with UdpPacketConn's batched I/O (recvmmsg/sendmmsg).
 */
async function udpBaseline(batched: boolean, seconds = 2): Promise<string> {
  const rx = UdpPacketConn.listen(
    "127.0.0.1",
    0,
    batched ? { socketBuffer: SOCKET_BUFFER, batch: {} } : {},
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "-A",
      new URL(import.meta.url).pathname,
      batched ? "--udp-send-batched" : "--udp-send",
      `${rx.localAddr.port}`,
      `${seconds}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let received = 0;
  let first = 0;
  let last = 0;
  const reading = (async () => {
    for (;;) {
      try {
        await rx.readFrom();
      } catch {
        return;
      }
      last = performance.now();
      if (received++ === 0) first = last;
    }
  })();
  await child.status;
  await new Promise((r) => setTimeout(r, 100));
  rx.close();
  await reading;
  const dt = (last - first) / 1000;
  const how = batched
    ? `batched (recvmmsg/sendmmsg via FFI${rx.batched ? "" : ": UNAVAILABLE, fell back"})`
    : "Deno ops";
  return `raw UDP through UdpPacketConn, ${how}, 1400 B datagrams, Deno -> Deno: received ` +
    `${(received / dt / 1000).toFixed(1)}k/s = ${(received * 1400 / dt / MB).toFixed(1)} MB/s`;
}

async function drain(readable: ReadableStream<Uint8Array>, want: number): Promise<number> {
  let got = 0;
  for await (const c of readable) {
    got += c.length;
    if (got >= want) break;
  }
  return got;
}

async function writeN(writable: WritableStream<Uint8Array>, n: number): Promise<void> {
  const w = writable.getWriter();
  for (let i = 0; i < n; i += CHUNK.length) await w.write(CHUNK);
  w.releaseLock();
}

interface Figure {
  mbps: number;
  cpuPerGB: number;
  detail?: string;
}

/** Child process role: KCP listener + smux server that drains one stream and answers "done". */
async function serveSink(port: number, bytes: number): Promise<void> {
  const udp = UdpPacketConn.listen("127.0.0.1", port, { socketBuffer: SOCKET_BUFFER, batch: {} });
  const listener = listenKcp(udp, KCPTUN_KCP);
  const kcp = await listener.accept();
  const smux = new SmuxSession(kcp, { client: false, config: KCPTUN_SMUX });
  const stream = await smux.acceptStream();
  await drain(stream.readable, bytes);
  console.log(
    `  serving end: ${kcp.stats.packetsIn} packets in, ${kcp.engine.stats.packetsOut} out, ` +
      `${kcp.engine.stats.dupSegs} duplicate segments received`,
  );
  const w = stream.writable.getWriter();
  await w.write(new Uint8Array([1]));
  await new Promise((r) => setTimeout(r, 200));
  smux.close();
  listener.close();
}

export async function oursOverUdp(bytes: number): Promise<Figure> {
  const port = freeUdpPort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "-A",
      // e.g. KCP_BENCH_CHILD_FLAGS=--cpu-prof to profile the serving end too.
      ...(Deno.env.get("KCP_BENCH_CHILD_FLAGS")?.split(" ").filter((f) => f) ?? []),
      Deno.env.get("KCP_BENCH_SINK") ?? new URL(import.meta.url).pathname,
      "--sink",
      `${port}`,
      `${bytes}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 1500)); // let the child start and bind
    const udp = UdpPacketConn.listen("127.0.0.1", 0, { socketBuffer: SOCKET_BUFFER, batch: {} });
    console.log(
      `  ours: SO_RCVBUF ${udp.socketBuffer ?? "unchanged (needs --allow-ffi)"}, ` +
        `recvmmsg/sendmmsg ${udp.batched ? "on" : "off"}`,
    );
    const cpu0 = selfCpuSeconds();
    const childCpu0 = procCpuSeconds(child.pid);
    const t0 = performance.now();
    const kcp = dialKcp(udp, new HostPortAddr("udp", "127.0.0.1", port), KCPTUN_KCP);
    const smux = new SmuxSession(kcp, { client: true, config: KCPTUN_SMUX });
    const stream = await smux.openStream();
    const diag = Deno.env.get("KCP_BENCH_DIAG")
      ? setInterval(() => {
        const e = kcp.engine;
        console.log(
          `  limit ${e.sendLimit} srtt ${e.srtt} rto ${e.rto} waitSnd ${e.waitSnd} ` +
            `rto ${e.stats.rtoRetrans} fast ${e.stats.fastRetrans} sent ${e.stats.segsSent}`,
        );
      }, 500)
      : undefined;
    await writeN(stream.writable, bytes);
    const reader = stream.readable.getReader();
    await reader.read();
    const dt = (performance.now() - t0) / 1000;
    clearInterval(diag);
    const cpu = selfCpuSeconds() - cpu0 + procCpuSeconds(child.pid) - childCpu0;
    const st = kcp.engine.stats;
    const sentPerSegment = (st.segsSent + st.rtoRetrans + st.fastRetrans) / st.segsSent;
    smux.close();
    return {
      mbps: bytes / dt / MB,
      cpuPerGB: cpu / (bytes / 1e9),
      detail: `${st.segsSent} payload segments, ${st.rtoRetrans} RTO + ${st.fastRetrans} ` +
        `loss-detected retransmissions (${st.spuriousRetrans} shown spurious) = ` +
        `${sentPerSegment.toFixed(3)} segments sent per payload segment`,
    };
  } finally {
    await child.status;
  }
}

async function kcptunOverUdp(bytes: number): Promise<Figure> {
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const udpPort = freeUdpPort();
  const tcpPort = freeTcpPort();
  const server = startKcptunServer(udpPort, (sink.addr as Deno.NetAddr).port);
  const client = startKcptunClient(tcpPort, `127.0.0.1:${udpPort}`);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = procCpuSeconds(server.pid) + procCpuSeconds(client.pid);
    const t0 = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcpPort });
    const accepted = await sink.accept();
    const got = drain(accepted.readable, bytes);
    await writeN(conn.writable, bytes);
    await got;
    const dt = (performance.now() - t0) / 1000;
    const cpu = procCpuSeconds(server.pid) + procCpuSeconds(client.pid) - cpu0;
    for (const c of [conn, accepted]) {
      try {
        c.close();
      } catch { /* closed when the drain loop ended */ }
    }
    return { mbps: bytes / dt / MB, cpuPerGB: cpu / (bytes / 1e9) };
  } finally {
    sink.close();
    await server.stop();
    await client.stop();
  }
}

export async function inProcess(bytes: number): Promise<Figure> {
  const [a, b] = memoryPacketPair(8192);
  const listener = listenKcp(b, SNOWFLAKE_KCP);
  const cpu0 = selfCpuSeconds();
  const t0 = performance.now();
  const kcp = dialKcp(a, b.localAddr, SNOWFLAKE_KCP);
  const client = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  const stream = await client.openStream();
  const writing = writeN(stream.writable, bytes);
  const server = new SmuxSession(await listener.accept(), {
    client: false,
    config: SNOWFLAKE_SMUX_SERVER,
  });
  const accepted = await server.acceptStream();
  await drain(accepted.readable, bytes);
  await writing;
  const dt = (performance.now() - t0) / 1000;
  const cpu = selfCpuSeconds() - cpu0;
  client.close();
  server.close();
  listener.close();
  return { mbps: bytes / dt / MB, cpuPerGB: cpu / (bytes / 1e9) };
}

/** One KCP session each way in this process over UDP loopback (Snowflake's settings). */
export async function oneProcessUdp(bytes: number): Promise<Figure> {
  const opts = { socketBuffer: SOCKET_BUFFER, batch: {} };
  const a = UdpPacketConn.listen("127.0.0.1", 0, opts);
  const b = UdpPacketConn.listen("127.0.0.1", 0, opts);
  const listener = listenKcp(b, SNOWFLAKE_KCP);
  const cpu0 = selfCpuSeconds();
  const t0 = performance.now();
  const kcp = dialKcp(a, new HostPortAddr("udp", "127.0.0.1", b.localAddr.port), SNOWFLAKE_KCP);
  const writing = writeN(kcp.writable, bytes);
  await drain((await listener.accept()).readable, bytes);
  await writing;
  const dt = (performance.now() - t0) / 1000;
  const cpu = selfCpuSeconds() - cpu0;
  const st = kcp.engine.stats;
  kcp.close();
  listener.close();
  return {
    mbps: bytes / dt / MB,
    cpuPerGB: cpu / (bytes / 1e9),
    detail: `${st.rtoRetrans} RTO + ${st.fastRetrans} loss-detected retransmissions = ` +
      `${((st.segsSent + st.rtoRetrans + st.fastRetrans) / st.segsSent).toFixed(3)} segments ` +
      `sent per payload segment`,
  };
}

/** Runs a full GC when started with --v8-flags=--expose-gc; otherwise figures include garbage. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function idleSessions(count: number, withSmux: boolean): Promise<string> {
  // One server endpoint and `count` client endpoints on one switch.
  const net = new MemorySwitch();
  const serverEnd = net.bind(new NamedAddr("memory", "server"), 1 << 20);
  const listener = listenKcp(serverEnd, SNOWFLAKE_KCP);
  const serverSessions: SmuxSession[] = [];
  const accepting = (async () => {
    for (let i = 0; i < count; i++) {
      const kcp = await listener.accept();
      if (!withSmux) continue;
      const s = new SmuxSession(kcp, { client: false, config: SNOWFLAKE_SMUX_SERVER });
      serverSessions.push(s);
      s.acceptStream().catch(() => {});
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  collectGarbage();
  const before = Deno.memoryUsage();
  const kcps: KcpSession[] = [];
  const smuxes: SmuxSession[] = [];
  for (let i = 0; i < count; i++) {
    const c = net.bind(new NamedAddr("memory", `c${i}`));
    const kcp = dialKcp(c, serverEnd.localAddr, SNOWFLAKE_KCP);
    kcps.push(kcp);
    if (withSmux) {
      const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
      smuxes.push(smux);
      await smux.openStream();
    } else {
      const w = kcp.writable.getWriter();
      await w.write(new Uint8Array(1));
      w.releaseLock();
    }
  }
  await accepting;
  // Settle: acks flushed, timers idle, smux batch buffers released (after 1 s).
  await new Promise((r) => setTimeout(r, 1500));
  collectGarbage();
  const after = Deno.memoryUsage();
  const cpu0 = selfCpuSeconds();
  await new Promise((r) => setTimeout(r, 2000));
  const idleCpu = (selfCpuSeconds() - cpu0) / 2;
  const heap = (after.heapUsed + after.external - before.heapUsed - before.external) / count;
  const rss = (after.rss - before.rss) / count;
  for (const s of smuxes) s.close();
  for (const k of kcps) k.close();
  for (const s of serverSessions) s.close();
  listener.close();
  const what = withSmux ? "KCP+smux sessions (one stream open)" : "KCP sessions (no smux)";
  return `${count} idle ${what}, client and server end each: ` +
    `heap+external ${(heap / 1024).toFixed(1)} KiB per session pair ` +
    `(${(heap / 2048).toFixed(1)} KiB per end), RSS ${(rss / 1024).toFixed(1)} KiB per pair; ` +
    `idle CPU ${(idleCpu * 100).toFixed(1)}% of a core`;
}

/** Runs every part, or only those named in `only` (udp, ours, kcptun, memory, idle). */
export async function run(only: string[] = []): Promise<string[]> {
  const lines: string[] = [];
  const say = (s: string) => {
    console.log(s);
    lines.push(s);
  };
  const want = (part: string) => only.length === 0 || only.includes(part);
  // First, while the heap holds no garbage from the throughput runs.
  if (want("idle")) {
    say(await idleSessions(1000, false));
    say(await idleSessions(1000, true));
  }
  if (want("udp")) {
    say(await udpBaseline(false));
    say(await udpBaseline(true));
  }
  const bytes = 100 * MB;
  let ours: Figure | undefined;
  if (want("ours")) {
    ours = await oursOverUdp(bytes);
    say(
      `KCP+smux over UDP loopback, 1 stream, ${bytes / MB} MB, ours: ${ours.mbps.toFixed(1)} ` +
        `MB/s, ${ours.cpuPerGB.toFixed(1)} CPU-s/GB (both ends); ${ours.detail}`,
    );
  }
  if (!want("kcptun")) {
    // skipped
  } else if (kcptunAvailable()) {
    const ref = await kcptunOverUdp(bytes);
    say(
      `KCP+smux over UDP loopback, 1 stream, ${bytes / MB} MB, kcptun<->kcptun: ` +
        `${ref.mbps.toFixed(1)} MB/s, ${ref.cpuPerGB.toFixed(1)} CPU-s/GB (both ends)`,
    );
    if (ours) say(`ratio ours/kcptun: ${(ours.mbps / ref.mbps).toFixed(2)}x`);
  } else {
    say("kcptun not installed: reference skipped");
  }
  if (want("memory")) {
    const mem = await inProcess(200 * MB);
    say(
      `KCP+smux in one process over the memory twin, 200 MB: ${mem.mbps.toFixed(1)} MB/s ` +
        `(target >= 200), ${mem.cpuPerGB.toFixed(1)} CPU-s/GB`,
    );
  }
  if (want("loopback")) {
    const one = await oneProcessUdp(100 * MB);
    say(
      `KCP alone, both ends in one process over UDP loopback, 100 MB: ${one.mbps.toFixed(1)} ` +
        `MB/s, ${one.cpuPerGB.toFixed(1)} CPU-s/GB; ${one.detail} (was 1.19-1.20: slow start ` +
        `overflowed the receiver's socket buffer)`,
    );
  }
  if (want("resume")) say(resumeAfterOutage());
  return lines;
}

/** First acknowledgement after a 30 s outage, on a virtual clock (see lib/kcp/outage_sim.ts). */
export function resumeAfterOutage(): string {
  const signalled = runOutage(true, 200_000).p;
  signalled.setLink(true);
  signalled.a.setPathUp(true);
  const withSignal = msToFirstAck(signalled);
  const unsignalled = runOutage(false, 4000).p;
  unsignalled.setLink(true);
  unsignalled.b.send(new Uint8Array(8)); // the peer's next packet, e.g. a smux keepalive
  unsignalled.b.flush();
  const withoutSignal = msToFirstAck(unsignalled);
  return `resume after a 30 s outage (RTT ${2 * DELAY} ms): first acknowledgement ` +
    `${withSignal} ms after setPathUp(true); ${withoutSignal} ms after the peer's next packet ` +
    `without it (was ~21 s: RTO backoff carried across the outage; the Go server resumes at once)`;
}

if (import.meta.main) {
  const [role, a, b] = Deno.args;
  if (role === "--sink") await serveSink(Number(a), Number(b));
  else if (role === "--udp-send") await udpSend(Number(a), Number(b), false);
  else if (role === "--udp-send-batched") await udpSend(Number(a), Number(b), true);
  else await run(Deno.args.filter((a) => !a.startsWith("-")));
  Deno.exit(0);
}
