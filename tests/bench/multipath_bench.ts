/**
 * `deno task bench multipath`: what striping one session over several proxies buys
 * (docs/client.md "Multipath"), on the client's chain (tests/client/chain.ts: WebRTC and the
 * proxies' WebSocket cross a veth) with every proxy's relay capped by traffic control on the
 * server's veth end (tests/client/relay_cap.ts: one HTB class per proxy connection):
 *
 * - download throughput through our client with 1, 2 and 3 proxies (`--max` 1, 2, 3), each
 *   relay capped at {@link CAP} bytes/s;
 * - one proxy capped at {@link SINGLE_CAP} bytes/s: the share of the cap that ours (client and
 *   proxy) and Debian's (snowflake-client and snowflake-proxy 2.5.1) reach, same run;
 * - time to recover full throughput after the busiest proxy carrying the download is killed:
 *   ours `--max 3`, ours `--max 1`, Debian's snowflake-client (Go 2.5.1), same run; spare
 *   proxies wait at the broker.
 *
 * Needs root (namespaces). Figures only; nothing is asserted.
 */
import { Chain, ONE_CLIENT, SERVER_PORT } from "../client/chain.ts";
import { CAN_NETNS, DENO, ROOT } from "../client/netns.ts";
import { RelayCap } from "../client/relay_cap.ts";

const CAP = 400_000;
const SINGLE_CAP = 2_000_000;
const SIZE = 16_000_000;
const THROUGHPUT_BYTES = 8_000_000;
const WARMUP_S = 3;
const TRACE_LIMIT_S = 75;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Byte counts over time of one download (sampled every 100 ms). */
interface Trace {
  samples: { t: number; bytes: number }[];
  bytes: number;
  seconds: number;
  firstByteSeconds: number;
}

/**
 * Downloads the origin's file through a SOCKS port, sampling socks_fetch's progress file;
 * gives up after {@link TRACE_LIMIT_S} (the trace then ends where the download stood).
 */
async function traced(
  chain: Chain,
  port: number | string,
  onStart?: (elapsed: () => number) => void,
): Promise<Trace> {
  const id = crypto.randomUUID();
  const progress = `${chain.net.dir}/progress-${id}`;
  const samples: { t: number; bytes: number }[] = [];
  const t0 = performance.now();
  const fetch = chain.net.spawn(chain.net.a, `fetch-${id}`, [
    DENO,
    "run",
    "--allow-net",
    "--allow-write",
    `${ROOT}/tests/client/socks_fetch.ts`,
    String(port),
    chain.fileUrl,
    "0",
    progress,
  ]);
  onStart?.(() => (performance.now() - t0) / 1000);
  while (!fetch.exited && performance.now() - t0 < TRACE_LIMIT_S * 1000) {
    const bytes = Number(await Deno.readTextFile(progress).catch(() => "0")) || 0;
    samples.push({ t: (performance.now() - t0) / 1000, bytes });
    await sleep(100);
  }
  await fetch.stop();
  const line = fetch.log().split("\n").find((l) => l.startsWith("{"));
  if (!line) {
    const last = samples.at(-1)?.bytes ?? 0;
    const first = samples.find((x) => x.bytes > 0)?.t ?? 0;
    return { samples, bytes: last, seconds: TRACE_LIMIT_S, firstByteSeconds: first };
  }
  const r = JSON.parse(line);
  return { samples, bytes: r.bytes, seconds: r.seconds, firstByteSeconds: r.firstByteSeconds };
}

/** Bytes/s over the `window` seconds that end at `t`. */
function rateAt(trace: Trace, t: number, window: number): number {
  const at = (x: number) => {
    let b = 0;
    for (const s of trace.samples) if (s.t <= x) b = s.bytes;
    return b;
  };
  return (at(t) - at(t - window)) / window;
}

/** Seconds from `killedAt` until a 1 s window reaches 80 % of the 3 s before it. */
function recovery(trace: Trace, killedAt: number): { before: number; seconds: number | null } {
  const before = rateAt(trace, killedAt, 3);
  for (const s of trace.samples) {
    if (s.t < killedAt + 1) continue;
    if (rateAt(trace, s.t, 1) >= 0.8 * before) return { before, seconds: s.t - 1 - killedAt };
  }
  return { before, seconds: null };
}

async function stopAll(chain: Chain, pattern: RegExp): Promise<void> {
  for (const p of chain.net.procs.filter((p) => pattern.test(p.name) && !p.exited)) {
    await p.stop();
  }
}

export async function run(): Promise<void> {
  if (!CAN_NETNS) {
    console.log("multipath bench: needs root (network namespaces); skipped");
    return;
  }
  const chain = await Chain.start({ subnet: 63, fileSize: SIZE });
  let cap = await RelayCap.start(chain.net, SERVER_PORT, CAP);
  try {
    console.log(`each proxy's relay capped at ${CAP / 1000} kB/s`);

    // Throughput with 1, 2, 3 proxies: from WARMUP_S after the first byte (every proxy of
    // the session connected) until THROUGHPUT_BYTES arrived.
    const rates: number[] = [];
    for (const n of [1, 2, 3]) {
      for (let i = 0; i < n; i++) chain.ourProxy(ONE_CLIENT);
      await chain.waitForProxies(n, 90_000);
      const c = await chain.ourClient(["--max", String(n)]);
      const t = await traced(chain, c.port);
      const first = t.samples.find((s) => s.bytes > 0)?.t ?? 0;
      const warm = t.samples.find((s) => s.t >= first + WARMUP_S) ?? t.samples[0]!;
      const end = t.samples.find((s) => s.bytes >= THROUGHPUT_BYTES) ?? t.samples.at(-1)!;
      const rate = (end.bytes - warm.bytes) / (end.t - warm.t);
      rates.push(rate);
      console.log(
        `${n} prox${n === 1 ? "y " : "ies"} (--max ${n}): ${(rate / 1e6).toFixed(2)} MB/s ` +
          `(${(rate / rates[0]!).toFixed(2)}x one proxy)${t.bytes === SIZE ? "" : " SHORT"}`,
      );
      await c.proc.stop();
      await stopAll(chain, /proxy/);
    }
    console.log(`3 proxies / 1 proxy: ${(rates[2]! / rates[0]!).toFixed(2)}x (target >= 2.5x)`);

    // One proxy capped at SINGLE_CAP: ours, then Debian's client and proxy.
    await cap.stop();
    cap = await RelayCap.start(chain.net, SERVER_PORT, SINGLE_CAP);
    for (const go of [false, true]) {
      go ? chain.debianProxy(ONE_CLIENT) : chain.ourProxy(ONE_CLIENT);
      await chain.waitForProxies(1, 90_000);
      const c = go ? await chain.goClient() : await chain.ourClient(["--max", "1"]);
      const t = await traced(chain, go ? `${c.port}+inner` : c.port);
      const first = t.samples.find((s) => s.bytes > 0)?.t ?? 0;
      const warm = t.samples.find((s) => s.t >= first + WARMUP_S) ?? t.samples[0]!;
      const end = t.samples.at(-1)!;
      const rate = (end.bytes - warm.bytes) / (end.t - warm.t);
      console.log(
        `one proxy capped at ${SINGLE_CAP / 1e6} MB/s, ${go ? "Debian's client+proxy" : "ours"}: ` +
          `${(rate / 1e6).toFixed(2)} MB/s, ${
            ((rate / SINGLE_CAP) * 100).toFixed(0)
          } % of the cap` +
          `${t.bytes === SIZE ? "" : " SHORT"}`,
      );
      await c.proc.stop();
      await stopAll(chain, /proxy/);
    }
    await cap.stop();
    cap = await RelayCap.start(chain.net, SERVER_PORT, CAP);

    // Recovery after the busiest proxy dies, 5 s after it began carrying the download; 2
    // spares at the broker.
    const runs: [
      string,
      number,
      () => Promise<{ port: number | string; stop(): Promise<void> }>,
    ][] = [
      ["ours --max 3", 3, async () => {
        const c = await chain.ourClient(["--max", "3"]);
        return { port: c.port, stop: () => c.proc.stop() };
      }],
      ["ours --max 1", 1, async () => {
        const c = await chain.ourClient(["--max", "1"]);
        return { port: c.port, stop: () => c.proc.stop() };
      }],
      ["Go snowflake-client", 1, async () => {
        const c = await chain.goClient();
        return { port: `${c.port}+inner`, stop: () => c.proc.stop() };
      }],
    ];
    for (const [label, used, start] of runs) {
      const go = label.startsWith("Go");
      for (let i = 0; i < used + 2; i++) {
        go || i % 2 ? chain.debianProxy(ONE_CLIENT) : chain.ourProxy(ONE_CLIENT);
      }
      await chain.waitForProxies(used + 2, 90_000);
      const c = await start();
      let killedAt = 0;
      const t = await traced(chain, c.port, (elapsed) => {
        void (async () => {
          // 5 s after a proxy started carrying the download.
          while (elapsed() < 60 && (await chain.busiestProxyPid()) === null) await sleep(200);
          await sleep(5000);
          const pid = await chain.busiestProxyPid();
          if (pid === null) return;
          Deno.kill(pid, "SIGKILL");
          killedAt = elapsed();
        })();
      });
      if (killedAt === 0) {
        console.log(`${label.padEnd(20)} no proxy carried the download; nothing killed`);
        await c.stop();
        await stopAll(chain, /proxy/);
        continue;
      }
      const r = recovery(t, killedAt);
      console.log(
        `${label.padEnd(20)} proxy killed at ${killedAt.toFixed(1)} s: ` +
          `${(r.before / 1e6).toFixed(2)} MB/s before, recovered to 80 % in ` +
          `${
            r.seconds === null ? "never (download ended or gave up)" : `${r.seconds.toFixed(1)} s`
          }` +
          `${t.bytes === SIZE ? "" : " SHORT"}`,
      );
      await c.stop();
      await stopAll(chain, /proxy/);
    }
  } finally {
    await cap.stop();
    await chain.stop();
  }
}

if (import.meta.main) await run();
