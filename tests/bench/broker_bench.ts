/**
 * Broker benchmarks: the broker binary on loopback, driven from this process.
 * - `matches`: 500 proxies polling back to back, 64 clients polling back to back for 10 s:
 *   matches per second and the broker's CPU per 1,000 matches.
 * - `idle10k`: 10,000 idle long-polling proxies: broker RSS, the cost per proxy and the
 *   projection to the ~100k proxies the real broker holds (target ≤ 300 MB at 10k).
 *
 * Run alone: `deno run --unstable-net --allow-all tests/bench/broker_bench.ts [section...]`.
 *
 * @module
 */
import { quantile, rssBytes, startProxies, waitForWaiting } from "../broker/load.ts";
import { fakeSdp, spawnBroker } from "../broker/spawn.ts";
import { procUsage } from "../server/proc.ts";
import { decodeClientPollResponse, encodeClientPollRequest } from "../../lib/snowflake/mod.ts";

const MB = 1e6;

async function matches(): Promise<void> {
  const broker = await spawnBroker(["--disable-probe"]);
  const swarm = startProxies(broker.url, 500);
  try {
    await waitForWaiting(broker.url, 500);
    const cpu0 = procUsage(broker.pid).cpuSeconds;
    const t0 = performance.now();
    const end = t0 + 10_000;
    let matched = 0;
    let denied = 0;
    const latencies: number[] = [];
    await Promise.all(Array.from({ length: 64 }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const s = performance.now();
        const res = await fetch(broker.url + "client", {
          method: "POST",
          body: encodeClientPollRequest({ offer: fakeSdp("offer", `c${c}-${i}`), nat: "unknown" }),
        });
        if (decodeClientPollResponse(await res.text()).answer) {
          matched++;
          latencies.push(performance.now() - s);
        } else denied++;
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = procUsage(broker.pid).cpuSeconds - cpu0;
    console.log(
      `matches: ${(matched / seconds).toFixed(0)} matches/s (${matched} in ${
        seconds.toFixed(1)
      } s, ` +
        `${denied} denied); latency p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ` +
        `${quantile(latencies, 0.99).toFixed(1)} ms; broker CPU ${
          (cpu / matched * 1000).toFixed(2)
        } s ` +
        `per 1,000 matches (${(cpu / seconds).toFixed(2)} cores; generator shares the 2 cores)`,
    );
  } finally {
    await swarm.stop();
    await broker.stop();
  }
}

async function idle10k(): Promise<void> {
  const n = 10_000;
  const broker = await spawnBroker(["--disable-probe"]);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssBytes(broker.pid);
    // Independent proxies: starts spread over one poll timeout, so polls end and restart
    // spread out too (all at once, every 10 s, would measure a burst no broker sees).
    const swarm = startProxies(broker.url, n, "unrestricted", 10_000);
    try {
      const waiting = await waitForWaiting(broker.url, n * 0.98, 120_000);
      const samples: number[] = [];
      for (let i = 0; i < 40; i++) {
        samples.push(rssBytes(broker.pid));
        await new Promise((r) => setTimeout(r, 500));
      }
      const median = quantile(samples, 0.5);
      const peak = Math.max(...samples);
      const per = (median - idle) / n;
      console.log(
        `idle10k: ${waiting}+ proxies waiting; broker RSS median ${(median / MB).toFixed(0)} MB, ` +
          `peak ${(peak / MB).toFixed(0)} MB over 20 s (idle ${
            (idle / MB).toFixed(0)
          } MB; target ` +
          `≤ 300 MB); ${(per / 1000).toFixed(1)} KB per proxy; projected for 100k proxies: ` +
          `${((idle + per * 100_000) / MB).toFixed(0)} MB`,
      );
    } finally {
      await swarm.stop();
    }
  } finally {
    await broker.stop();
  }
}

const SECTIONS: Record<string, () => Promise<void>> = { matches, idle10k };

export async function run(names: string[] = []): Promise<void> {
  for (const [name, fn] of Object.entries(SECTIONS)) {
    if (names.length === 0 || names.includes(name)) await fn();
  }
}

if (import.meta.main) await run(Deno.args);
