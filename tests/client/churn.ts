/**
 * The churn run shared by the `churn:` tests and the multipath bench: a download through our
 * client with 5 proxies at the broker (ours and Debian's mixed); every `killEveryMs` the
 * busiest proxy carrying the session is killed (SIGKILL) and a new one of the same kind is
 * started, so that 5 stay available.
 *
 * @module
 */
import { Chain, type FetchResult, ONE_CLIENT } from "./chain.ts";
import type { NsProc } from "./netns.ts";

/** What one churn run measured. */
export interface ChurnResult {
  fetch: FetchResult;
  kills: number;
  /** `failover:` lines (the death rule closing a path) in the client's log. */
  failovers: number;
  /** Proxies lost for any reason (`lost` with --max ≥ 2, `closed` with --max 1). */
  losses: number;
  log: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts proxy number `n` of the mix: Debian's for every third, ours otherwise. */
export function mixedProxy(chain: Chain, n: number): NsProc {
  return n % 3 === 2 ? chain.debianProxy(ONE_CLIENT) : chain.ourProxy(ONE_CLIENT);
}

/** Runs one churn download through a fresh client with `--max max`. */
export async function churn(
  chain: Chain,
  max: number,
  options: { killEveryMs?: number; rate?: number } = {},
): Promise<ChurnResult> {
  const procs = new Map<number, NsProc>();
  let started = 0;
  const start = (kind?: "go" | "ours") => {
    const p = kind === undefined
      ? mixedProxy(chain, started)
      : kind === "go"
      ? chain.debianProxy(ONE_CLIENT)
      : chain.ourProxy(ONE_CLIENT);
    started++;
    procs.set(p.pid, p);
  };
  for (let i = 0; i < 5; i++) start();
  await chain.waitForProxies(5, 90_000);
  const client = await chain.ourClient(["--max", String(max)]);
  let done = false;
  const fetching = chain.fetch(client.port, options.rate ?? 0).finally(() => (done = true));
  let kills = 0;
  const killer = (async () => {
    while (!done && (await chain.busiestProxyPid()) === null) await sleep(200);
    while (!done) {
      await sleep(options.killEveryMs ?? 10_000);
      if (done) break;
      const pid = await chain.busiestProxyPid();
      const victim = pid === null ? undefined : procs.get(pid);
      if (!victim) continue;
      Deno.kill(victim.pid, "SIGKILL");
      console.log(`${new Date().toISOString()} killed ${victim.name}`);
      kills++;
      procs.delete(victim.pid);
      start(/go-proxy/.test(victim.name) ? "go" : "ours");
    }
  })();
  const fetch = await fetching;
  await killer;
  await client.proc.stop();
  for (const p of procs.values()) await p.stop();
  const log = await Deno.readTextFile(client.log);
  return {
    fetch,
    kills,
    failovers: log.split("\n").filter((l) => /failover: proxy .* no progress/.test(l)).length,
    losses: log.split("\n").filter((l) => (max >= 2 ? / lost \(/ : / closed \[/).test(l)).length,
    log,
  };
}

/** The figures of a churn run, as printed by the tests and the bench. */
export function churnSummary(label: string, r: ChurnResult, size: number): string {
  const f = r.fetch;
  return `${label}: ${(f.bytes / 1e6).toFixed(0)} MB in ${f.seconds.toFixed(1)} s ` +
    `(${
      (f.bytes / (f.seconds - f.firstByteSeconds) / 1e6).toFixed(2)
    } MB/s from the first byte), ` +
    `${r.kills} proxies killed, ${r.losses} proxies lost, ${r.failovers} closed by the ` +
    `no-progress rule; longest stall ${f.longestStall.toFixed(2)} s; stalls ` +
    `${JSON.stringify(f.histogram)}; ${f.bytes === size ? "complete" : "SHORT"}`;
}
