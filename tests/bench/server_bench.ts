/**
 * Server benchmarks (issue: Snowflake server). Runs the real server process and drives it
 * with simulated clients from a separate load-generator process ({@link ./server_load.ts}),
 * so server and generator CPU are measured apart:
 * - `throughput`: download with 1, 10 and 100 concurrent sessions (MB/s, server CPU-s per
 *   GB, server and generator CPU utilisation in cores, per server thread);
 * - `workers`: 100 sessions with num-turbotunnel=1 and =2 side by side;
 * - `idle`: server memory per idle session (1,000 sessions, one open ORPort stream each);
 * - `cycles`: server RSS after each of 10 connect/disconnect cycles of 1,000 sessions;
 * - `idle10k`: one server holding 10,000 mostly idle sessions (keepalives every 10 s);
 * - `serial`: the main thread's share of server CPU per GB (Amdahl's serial fraction) at
 *   num-turbotunnel=1, 2, 4 with 100 busy sessions, and the scaling it predicts;
 * - `resume`: a download whose carrier vanishes for 30 s: time to the first byte and to
 *   4 MiB more once a new carrier opens.
 * The generator uses a minimal KCP/smux receiver by default; `--full` uses the real client
 * stack instead (several times the generator CPU).
 *
 * Run alone: `deno run --unstable-net --allow-all tests/bench/server_bench.ts [section...] [--full]`.
 *
 * @module
 */
import { goodEnv, type ServerProcess, smethodPort, spawnServer } from "../server/spawn.ts";
import { mib, procThreads, procUsage } from "../server/proc.ts";
import { sleep } from "../../lib/net/mod.ts";
import { resumeAfterOutage } from "../turbotunnel/resume.ts";

const MB = 1e6;
const SECTIONS = [
  "throughput",
  "workers",
  "idle",
  "cycles",
  "idle10k",
  "serial",
  "resume",
] as const;
type Section = typeof SECTIONS[number];

/**
 * A fake ORPort: a client writes a u32 byte count, the ORPort streams that many bytes and
 * half-closes; a count of 0 means "stay open and echo" (idle sessions).
 */
function startSource(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const block = new Uint8Array(64 * 1024).fill(0x5a);
  (async () => {
    for await (const c of listener) {
      (async () => {
        try {
          const hdr = new Uint8Array(4);
          let have = 0;
          while (have < 4) {
            const n = await c.read(hdr.subarray(have));
            if (n === null) throw new Error("eof");
            have += n;
          }
          let left = new DataView(hdr.buffer).getUint32(0);
          if (left === 0) {
            const buf = new Uint8Array(256);
            for (;;) {
              const n = await c.read(buf);
              if (n === null) break;
              await c.write(buf.subarray(0, n));
            }
          }
          while (left > 0) {
            const n = await c.write(block.subarray(0, Math.min(left, block.length)));
            left -= n;
          }
          await c.closeWrite();
          while ((await c.read(new Uint8Array(1024))) !== null) { /* drain */ }
        } catch { /* client went away */ }
        try {
          c.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/** The load generator process; see server_load.ts for its stdio protocol. */
class Generator {
  #child: Deno.ChildProcess;
  #lines: AsyncIterator<string>;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(url: string, sessions: number, bytes: number, flags: string[] = []) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./server_load.ts", import.meta.url).pathname,
        url,
        String(sessions),
        String(bytes),
        ...flags,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#lines = lines(this.#child.stdout);
  }

  get pid(): number {
    return this.#child.pid;
  }

  async next(): Promise<string> {
    const r = await this.#lines.next();
    if (r.done) throw new Error("load generator exited early");
    return r.value;
  }

  async say(): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode("go\n"));
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* exited */ }
    await this.#child.status;
  }

  async done(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    await this.#child.status;
  }
}

async function* lines(stream: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
}

async function startServer(
  orPort: number,
  numTurbotunnel = 1,
  args: string[] = ["--disable-tls"],
): Promise<{ server: ServerProcess; url: string; pid: number }> {
  const env = numTurbotunnel === 1 ? goodEnv(orPort) : goodEnv(orPort, {
    TOR_PT_SERVER_TRANSPORT_OPTIONS: `snowflake:num-turbotunnel=${numTurbotunnel}`,
  });
  const server = spawnServer(env, args);
  const port = smethodPort(await server.waitFor(/^SMETHODS DONE$/));
  return { server, url: `ws://127.0.0.1:${port}/`, pid: server.child.pid };
}

async function stopServer(s: { server: ServerProcess }): Promise<void> {
  s.server.kill("SIGKILL");
  await s.server.status;
}

interface Throughput {
  mbps: number;
  cpuPerGB: number;
  serverCores: number;
  genCores: number;
  /** The main thread's share (the thread Deno names "deno"). */
  mainCores: number;
  threads: string;
}

/** One download run: `n` sessions fetching `total` bytes together. */
async function throughput(
  url: string,
  pid: number,
  n: number,
  total: number,
  full: boolean,
): Promise<Throughput> {
  const per = Math.floor(total / n);
  const gen = new Generator(url, n, per, full ? ["--full"] : []);
  try {
    if ((await gen.next()) !== "ready") throw new Error("load generator not ready");
    const t0 = procThreads(pid);
    const before = procUsage(pid);
    const w0 = performance.now();
    await gen.say();
    const r = JSON.parse(await gen.next()) as { bytes: number; secs: number; cpuSeconds: number };
    const wall = (performance.now() - w0) / 1000;
    const after = procUsage(pid);
    const t1 = procThreads(pid);
    if (r.bytes !== per * n) throw new Error(`got ${r.bytes} of ${per * n} bytes`);
    const cpu = after.cpuSeconds - before.cpuSeconds;
    const perThread = [...t1.entries()]
      .map(([tid, t]) => ({ name: t.name, cpu: t.cpuSeconds - (t0.get(tid)?.cpuSeconds ?? 0) }));
    const busy = perThread
      .filter((t) => t.cpu / wall >= 0.05)
      .sort((a, b) => b.cpu - a.cpu)
      .map((t) => `${t.name} ${(t.cpu / wall).toFixed(2)}`)
      .join(", ");
    return {
      mbps: r.bytes / MB / r.secs,
      cpuPerGB: cpu / (r.bytes / 1e9),
      serverCores: cpu / wall,
      genCores: r.cpuSeconds / r.secs,
      mainCores: (perThread.find((t) => t.name === "deno")?.cpu ?? 0) / wall,
      threads: busy,
    };
  } finally {
    await gen.stop();
  }
}

function formatThroughput(label: string, t: Throughput, rss: number): string {
  return `${label}: ${t.mbps.toFixed(1)} MB/s, server ${t.cpuPerGB.toFixed(1)} CPU-s/GB, ` +
    `server ${t.serverCores.toFixed(2)} cores [${t.threads}], ` +
    `generator ${t.genCores.toFixed(2)} cores, RSS ${mib(rss)} MiB`;
}

/** Starts `n` idle sessions (one open stream each); resolves once all are up. */
async function idleSessions(url: string, n: number, flags: string[] = []): Promise<Generator> {
  const gen = new Generator(url, n, 0, flags);
  if ((await gen.next()) !== "ready") throw new Error("load generator not ready");
  return gen;
}

async function runThroughput(orPort: number, full: boolean): Promise<void> {
  const s = await startServer(orPort);
  try {
    await sleep(500);
    const baseline = procUsage(s.pid).rssBytes;
    console.log(`server baseline RSS (Deno's own, no session yet) ${mib(baseline)} MiB`);
    for (const n of [1, 10, 100]) {
      const t = await throughput(s.url, s.pid, n, n === 1 ? 50 * MB : 100 * MB, full);
      const u = procUsage(s.pid);
      console.log(formatThroughput(`throughput ${String(n).padStart(3)} sessions`, t, u.rssBytes));
      if (n === 1) {
        console.log(
          `one busy session: peak RSS ${mib(u.peakRssBytes)} MiB (baseline ${mib(baseline)} ` +
            `included; target ≤ 80, the Go server ~20)`,
        );
      }
    }
  } finally {
    await stopServer(s);
  }
}

async function runWorkers(orPort: number, full: boolean): Promise<void> {
  // Both servers run side by side and are measured in turns, so that load from anything
  // else on the machine hits both alike; the median of the rounds is compared.
  const servers = [await startServer(orPort, 1), await startServer(orPort, 2)];
  const runs: Throughput[][] = [[], []];
  try {
    for (const s of servers) await throughput(s.url, s.pid, 10, 10 * MB, full); // warm-up
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of servers.entries()) {
        const t = await throughput(s.url, s.pid, 100, 200 * MB, full);
        runs[i]!.push(t);
        console.log(
          formatThroughput(`100 sessions, num-turbotunnel=${i + 1}`, t, procUsage(s.pid).rssBytes),
        );
      }
    }
  } finally {
    for (const s of servers) await stopServer(s);
  }
  const median = (a: Throughput[]) =>
    [...a].sort((x, y) => x.mbps - y.mbps)[Math.floor(a.length / 2)]!;
  const [one, two] = [median(runs[0]!), median(runs[1]!)];
  console.log(
    `median MB/s: num-turbotunnel=1 ${one.mbps.toFixed(1)}, =2 ${two.mbps.toFixed(1)}: ` +
      `${(two.mbps / one.mbps).toFixed(2)}×`,
  );
  // What the CPU allows: the two cores of this machine are shared by the server and the
  // load generator. N=1 already keeps most of them busy; at N=2's CPU cost per MB both cores
  // carry at most `ceil2`.
  const used1 = one.serverCores + one.genCores;
  const ceil2 = two.mbps * 2 / (two.serverCores + two.genCores);
  console.log(
    `N=1 keeps ${used1.toFixed(2)} of 2 cores busy (server ${one.serverCores.toFixed(2)}, ` +
      `main thread ${one.mainCores.toFixed(2)}, generator ${one.genCores.toFixed(2)}); ` +
      `at N=2's cost both cores carry at most ${ceil2.toFixed(0)} MB/s = ` +
      `${(ceil2 / one.mbps).toFixed(2)}× N=1 on this machine`,
  );
}

async function runIdle(orPort: number): Promise<void> {
  const s = await startServer(orPort);
  try {
    await sleep(500);
    const r0 = procUsage(s.pid).rssBytes;
    const N = 1000;
    const gen = await idleSessions(s.url, N);
    await sleep(3000);
    const r1 = procUsage(s.pid).rssBytes;
    console.log(
      `idle: ${N} sessions (1 open stream each): RSS ${mib(r0)} → ${mib(r1)} MiB, ` +
        `${((r1 - r0) / N / 1024).toFixed(1)} KiB/session (target ≤ 100)`,
    );
    await gen.done();
  } finally {
    await stopServer(s);
  }
}

async function runCycles(orPort: number): Promise<void> {
  // Sessions of disconnected clients live as upstream lets them: until smux's keepalive
  // timeout (4 min), paused meanwhile (no carrier, no retransmissions).
  const s = await startServer(orPort, 1, ["--disable-tls"]);
  try {
    const N = 1000;
    const rss: string[] = [];
    for (let cycle = 1; cycle <= 10; cycle++) {
      const gen = await idleSessions(s.url, N);
      rss.push(mib(procUsage(s.pid).rssBytes));
      await gen.done();
    }
    console.log(`RSS (MiB) with ${N} sessions connected, in each of 10 cycles: ${rss.join(", ")}`);
    const after: string[] = [];
    for (let i = 0; i < 4; i++) {
      await sleep(5000);
      after.push(mib(procUsage(s.pid).rssBytes));
    }
    console.log(`RSS (MiB) 5, 10, 15, 20 s after the last disconnect: ${after.join(", ")}`);
  } finally {
    await stopServer(s);
  }
}

async function runIdle10k(orPort: number): Promise<void> {
  const s = await startServer(orPort);
  try {
    await sleep(500);
    const r0 = procUsage(s.pid).rssBytes;
    // Each session holds a WebSocket and an ORPort connection: 10,000 of both need more
    // than this machine's 20,000 file descriptors, so 1,000 sessions have no open stream.
    const withStream = 9000;
    const gens = [
      await idleSessions(s.url, withStream),
      await idleSessions(s.url, 10_000 - withStream, ["--no-stream"]),
    ];
    await sleep(15_000);
    const r1 = procUsage(s.pid);
    console.log(
      `10,000 idle sessions (${withStream} with an open stream), keepalives every 10 s: ` +
        `RSS ${mib(r0)} → ${mib(r1.rssBytes)} MiB (target ≤ 1024)`,
    );
    for (const g of gens) await g.done();
  } finally {
    await stopServer(s);
  }
}

async function runSerial(orPort: number, full: boolean): Promise<void> {
  // On 2 cores the generator competes with the server, so throughput cannot show the
  // scaling. What decides it is the part only the main thread can do (carrier I/O,
  // routing): its share of the server's CPU per GB is Amdahl's serial fraction.
  for (const n of [1, 2, 4]) {
    const s = await startServer(orPort, n);
    try {
      await throughput(s.url, s.pid, 10, 10 * MB, full); // warm-up
      const t = await throughput(s.url, s.pid, 100, 100 * MB, full);
      const serial = t.serverCores > 0 ? t.mainCores / t.serverCores : 1;
      const speedup = (k: number) => 1 / (serial + (1 - serial) / k);
      console.log(
        `serial num-turbotunnel=${n}: ${t.mbps.toFixed(1)} MB/s, ${t.cpuPerGB.toFixed(1)} ` +
          `CPU-s/GB, main thread ${(t.mainCores / t.serverCores * t.cpuPerGB).toFixed(1)} ` +
          `CPU-s/GB: serial fraction ${serial.toFixed(2)} → predicts ${speedup(8).toFixed(1)}× ` +
          `on 8 cores, ${speedup(16).toFixed(1)}× on 16 (target ≥ 6× on 8) [${t.threads}]`,
      );
    } finally {
      await stopServer(s);
    }
  }
}

async function runResume(orPort: number): Promise<void> {
  const s = await startServer(orPort);
  try {
    const request = new Uint8Array(4);
    new DataView(request.buffer).setUint32(0, 0xffffffff); // more than it will read
    const r = await resumeAfterOutage(s.url, { request, outageMs: 30_000 });
    console.log(
      `resume after a 30 s outage: first byte ${r.firstMs.toFixed(0)} ms, 4 MiB more ` +
        `${r.bulkMs.toFixed(0)} ms after the new carrier opened (target ≤ 1 s; the Go server ` +
        `resumes at once; ours took 11–17 s before senders paused without a carrier)`,
    );
  } finally {
    await stopServer(s);
  }
}

export async function run(sections: Section[] = [...SECTIONS], full = false): Promise<void> {
  const source = startSource();
  try {
    for (const section of sections) {
      if (section === "throughput") await runThroughput(source.port, full);
      if (section === "workers") await runWorkers(source.port, full);
      if (section === "idle") await runIdle(source.port);
      if (section === "cycles") await runCycles(source.port);
      if (section === "idle10k") await runIdle10k(source.port);
      if (section === "serial") await runSerial(source.port, full);
      if (section === "resume") await runResume(source.port);
    }
  } finally {
    source.close();
  }
}

if (import.meta.main) {
  const picked = Deno.args.filter((a) => !a.startsWith("--"));
  for (const p of picked) {
    if (!(SECTIONS as readonly string[]).includes(p)) {
      throw new TypeError(`unknown section ${p}; choose from ${SECTIONS.join(", ")}`);
    }
  }
  await run(
    picked.length ? picked as Section[] : [...SECTIONS],
    Deno.args.includes("--full"),
  );
}
