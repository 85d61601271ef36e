/**
 * `deno task bench client_latency`: SOCKS connect to first byte, our client + our proxy beside
 * Debian's snowflake-client + snowflake-proxy (Go 2.5.1), same run, same broker, server and
 * namespaces as the client bench (tests/client/chain.ts; its STUN server given to both clients),
 * and each client's RSS. Each fetch is a new SOCKS connection: for Go a new session and a new
 * rendezvous; for ours (standalone) one more smux stream on the session opened at startup
 * (docs/client.md "Standalone mode: one session, many streams"). The first fetch comes as soon
 * as the client listens, the proxy having waited at the broker since before the client started
 * (Go starts nothing before a SOCKS connection; ours rendezvouses at startup). Also prints how
 * many proxies each client rendezvoused. One unmeasured fetch first warms the chain. Needs root.
 * `CLIENT_LATENCY_FETCHES` (default 5) fetches per client, `CLIENT_LATENCY_ROUNDS` (default 2)
 * clients of each kind. Figures only.
 *
 * @module
 */
import { Chain, type FetchResult } from "../client/chain.ts";
import { CAN_NETNS, type NsProc } from "../client/netns.ts";
import { sleep } from "../../lib/net/sleep.ts";

const FETCHES = Number(Deno.env.get("CLIENT_LATENCY_FETCHES") ?? 5);
const ROUNDS = Number(Deno.env.get("CLIENT_LATENCY_ROUNDS") ?? 2);

/** Resident memory of a process, MB. */
function rssMB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
  return Number(kb ?? 0) / 1024;
}

interface Row {
  firstByte: number[];
  rss: number[];
  /** Proxies the client rendezvoused for its fetches. */
  rendezvous: number;
}

async function measure(
  chain: Chain,
  proxy: () => NsProc,
  client: () => Promise<{ proc: NsProc; port: number | string; log: string }>,
): Promise<Row> {
  const p = proxy();
  await chain.waitForProxies();
  const c = await client();
  const row: Row = { firstByte: [], rss: [], rendezvous: 0 };
  try {
    for (let i = 0; i < FETCHES; i++) {
      // Before the first, the proxy has waited since before the client started; ours may
      // have taken it for its startup session already.
      if (i > 0) await chain.waitForProxies();
      const r: FetchResult = await chain.fetch(c.port);
      if (r.bytes !== chain.fileSize) throw new Error(`fetch ${i}: ${r.bytes} bytes`);
      row.firstByte.push(r.firstByteSeconds);
      row.rss.push(rssMB(c.proc.pid));
      await sleep(500);
    }
    // Ours logs each proxy a session connected; Go each answer it received from the broker.
    row.rendezvous = count(
      await Deno.readTextFile(c.log),
      /proxy \S+ connected \[|Received Answer/g,
    );
  } finally {
    await c.proc.stop();
    await p.stop();
  }
  return row;
}

/**
 * One fetch, not measured, so that the first client measured (ours) does not meet a server that
 * has never served a session while Go's meets a warm one: a fresh server took 8 ms more to set up
 * its first KCP and smux session (docs/client.md "The first connection").
 */
async function warmUp(chain: Chain): Promise<void> {
  const p = chain.debianProxy();
  await chain.waitForProxies();
  const c = await chain.goClient();
  try {
    await chain.fetch(`${c.port}+inner`);
  } finally {
    await c.proc.stop();
    await p.stop();
  }
}

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  if (!CAN_NETNS) {
    console.log("client latency bench: needs root (network namespaces); skipped");
    return;
  }
  const chain = await Chain.start({ subnet: 36, fileSize: 10_000 });
  try {
    await warmUp(chain);
    const rows: Record<string, Row[]> = { ours: [], "Go 2.5.1": [] };
    for (let round = 0; round < ROUNDS; round++) {
      rows.ours!.push(await measure(chain, () => chain.ourProxy(), () => chain.ourClient()));
      rows["Go 2.5.1"]!.push(
        await measure(chain, () => chain.debianProxy(), async () => {
          const c = await chain.goClient();
          return { ...c, port: `${c.port}+inner` };
        }),
      );
    }
    for (const [name, rs] of Object.entries(rows)) {
      const first = rs.map((r) => r.firstByte[0]!);
      const later = rs.flatMap((r) => r.firstByte.slice(1));
      const rss = rs.flatMap((r) => r.rss);
      console.log(
        `${name.padEnd(20)} first byte: first connection ${
          first.map((s) => s.toFixed(3)).join(", ")
        } s; later connections median ${median(later).toFixed(3)} s (${
          Math.min(...later).toFixed(3)
        }–${Math.max(...later).toFixed(3)}); client RSS after a fetch ${
          Math.min(...rss).toFixed(0)
        }–${Math.max(...rss).toFixed(0)} MB; proxies rendezvoused per ${FETCHES} fetches ${
          rs.map((r) => r.rendezvous).join(", ")
        }`,
      );
    }
  } finally {
    await chain.stop();
  }
}

if (import.meta.main) await run();
