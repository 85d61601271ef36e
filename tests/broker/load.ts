/**
 * A load generator for the broker (tests/broker/load_test.ts, tests/bench/broker_bench.ts):
 * many proxies that long-poll back to back and answer every offer at once, and clients that
 * poll at a fixed rate and time each match.
 *
 * @module
 */
import {
  decodeClientPollResponse,
  decodeProxyPollResponse,
  encodeAnswerRequest,
  encodeClientPollRequest,
  encodeProxyPollRequest,
} from "../../lib/snowflake/mod.ts";
import { fakeSdp } from "./spawn.ts";

export interface ProxySwarm {
  /** Polls answered with "client match" so far. */
  matched(): number;
  /** Polls that failed at the HTTP level. */
  errors(): number;
  stop(): Promise<void>;
}

/**
 * Starts `n` proxies that poll `brokerUrl` back to back (ignoring NextPoll). With `spreadMs`,
 * each starts after a random delay up to that long, as independent proxies would.
 */
export function startProxies(
  brokerUrl: string,
  n: number,
  nat: "unrestricted" | "restricted" = "unrestricted",
  spreadMs = 0,
): ProxySwarm {
  const abort = new AbortController();
  let matched = 0;
  let errors = 0;
  const loop = async (i: number) => {
    const sid = `load-proxy-${i}`;
    const poll = encodeProxyPollRequest({
      sid,
      type: "standalone",
      nat,
      clients: 0,
      acceptedRelayPattern: "",
    });
    if (spreadMs > 0) await new Promise((r) => setTimeout(r, Math.random() * spreadMs));
    while (!abort.signal.aborted) {
      try {
        const res = await fetch(brokerUrl + "proxy", {
          method: "POST",
          body: poll,
          signal: abort.signal,
        });
        const resp = decodeProxyPollResponse(await res.text());
        if (resp.status !== "client match") continue;
        matched++;
        const a = await fetch(brokerUrl + "answer", {
          method: "POST",
          body: encodeAnswerRequest({ sid, answer: fakeSdp("answer", sid) }),
          signal: abort.signal,
        });
        await a.text();
      } catch {
        if (abort.signal.aborted) return;
        errors++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const loops = Array.from({ length: n }, (_, i) => loop(i));
  return {
    matched: () => matched,
    errors: () => errors,
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
    },
  };
}

export interface ClientRun {
  latenciesMs: number[];
  matched: number;
  failed: Map<string, number>;
}

/** Sends `count` client polls, one every `intervalMs`, and times each from POST to reply. */
export async function runClients(
  brokerUrl: string,
  count: number,
  intervalMs: number,
): Promise<ClientRun> {
  const latenciesMs: number[] = [];
  const failed = new Map<string, number>();
  let matched = 0;
  const polls: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    polls.push((async () => {
      const body = encodeClientPollRequest({
        offer: fakeSdp("offer", `client-${i}`),
        nat: "unknown",
      });
      const t0 = performance.now();
      try {
        const res = await fetch(brokerUrl + "client", { method: "POST", body });
        const resp = decodeClientPollResponse(await res.text());
        if (resp.answer) {
          matched++;
          latenciesMs.push(performance.now() - t0);
        } else failed.set(resp.error!, (failed.get(resp.error!) ?? 0) + 1);
      } catch (e) {
        const why = (e as Error).message;
        failed.set(why, (failed.get(why) ?? 0) + 1);
      }
    })());
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(polls);
  return { latenciesMs, matched, failed };
}

/** The q-quantile (0..1) of `values`. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Resident set size of a process, bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** Waits until the broker's /debug shows at least `n` waiting proxies (or `timeoutMs`). */
export async function waitForWaiting(
  brokerUrl: string,
  n: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    const text = await (await fetch(brokerUrl + "debug")).text();
    seen = Number(/available: (\d+)/.exec(text)?.[1] ?? 0);
    if (seen >= n) return seen;
    await new Promise((r) => setTimeout(r, 200));
  }
  return seen;
}
