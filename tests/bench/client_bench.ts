/**
 * `deno task bench client`: our client + our proxy beside Debian's snowflake-client +
 * snowflake-proxy (Go 2.5.1), same run, same broker, server and namespaces
 * (tests/client/chain.ts: client, broker and server in namespace A, the proxy in B; WebRTC and
 * the proxy's WebSocket cross the veth; no tor in the path). Both chains use our server: Debian
 * packages no snowflake-server, and docs/client.md compares with the Go server's figure.
 *
 * - single-stream download throughput (50 MB, from the HTTP request after the SOCKS
 *   handshakes to the last byte) and SOCKS connect to first byte;
 * - the longest stall when the proxy carrying a paced download is killed, with `--max 1`
 *   and a second proxy already waiting at the broker.
 *
 * Needs root (namespaces). Figures only; nothing is asserted (docs/client.md).
 */
import { Chain, type FetchResult } from "../client/chain.ts";
import { CAN_NETNS, type NsProc } from "../client/netns.ts";
import { sleep } from "../../lib/net/sleep.ts";

const SIZE = 50_000_000;
const ROUNDS = 3;
/** Debian's client and proxy with the upstream Go server, same topology (docs/client.md). */
const GO_CHAIN_MBPS = 2.79;

/**
 * MB/s from the HTTP request to the last byte: the rendezvous is timed separately (first
 * byte), and a late first byte followed by a burst cannot inflate it.
 */
const mbps = (r: FetchResult) => r.bytes / (r.lastByteSeconds - r.requestSeconds) / 1e6;

function line(label: string, r: FetchResult): string {
  return `${label.padEnd(26)} ${mbps(r).toFixed(2).padStart(6)} MB/s  ` +
    `first byte ${r.firstByteSeconds.toFixed(2)} s  ${r.bytes === SIZE ? "intact" : "SHORT"}`;
}

/** Kills the proxy carrying a paced download midway; the fetch's measurements. */
async function stall(
  chain: Chain,
  port: number | string,
  spare: () => NsProc,
): Promise<FetchResult> {
  const fetching = chain.fetch(port, 2_000_000);
  for (let i = 0; i < 300 && (await chain.busiestProxyPid()) === null; i++) await sleep(200);
  await sleep(2000);
  spare();
  await chain.waitForProxies(1); // the replacement waits at the broker before the kill
  await sleep(1000);
  const pid = await chain.busiestProxyPid();
  if (pid) Deno.kill(pid, "SIGKILL");
  return await fetching;
}

/** The WebRTC host processes our client started (client/webrtc_process.ts): its children. */
function children(pid: number): number[] {
  try {
    const list = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return list === "" ? [] : list.split(" ").map(Number);
  } catch {
    return [];
  }
}

/**
 * A client's resident memory (MB) and CPU time so far (s), from /proc: the process itself, its
 * children (our WebRTC host), and the client's RSS plus its children's private pages (pages both
 * map, such as the deno binary's code, counted once).
 */
function usage(pid: number): { rssMB: number; hostMB: number; togetherMB: number; cpuS: number } {
  const kb = (file: string, key: string) => {
    try {
      return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(Deno.readTextFileSync(file))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  const cpu = (p: number) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${p}/stat`).split(") ")[1]!.split(" ");
      return (Number(stat[11]) + Number(stat[12])) / 100;
    } catch {
      return 0;
    }
  };
  const kids = children(pid);
  return {
    rssMB: kb(`/proc/${pid}/status`, "VmRSS") / 1024,
    hostMB: kids.reduce((n, k) => n + kb(`/proc/${k}/status`, "VmRSS"), 0) / 1024,
    togetherMB: (kb(`/proc/${pid}/status`, "VmRSS") +
      kids.reduce(
        (n, k) =>
          n + kb(`/proc/${k}/smaps_rollup`, "Private_Clean") +
          kb(`/proc/${k}/smaps_rollup`, "Private_Dirty"),
        0,
      )) / 1024,
    cpuS: [pid, ...kids].reduce((n, p) => n + cpu(p), 0),
  };
}

/** Fetches while sampling the client: idle RSS, peak RSS, CPU seconds per MB. */
async function measured(
  chain: Chain,
  port: number | string,
  pid: number,
): Promise<
  FetchResult & {
    idleMB: number;
    peakMB: number;
    hostIdleMB: number;
    hostPeakMB: number;
    togetherIdleMB: number;
    togetherPeakMB: number;
    cpuPerMB: number;
    relayed: number;
  }
> {
  await sleep(1000);
  const idle = usage(pid);
  const relayedBefore = await chain.proxyBytesFromServer();
  let peak = idle.rssMB;
  let hostPeak = idle.hostMB;
  let togetherPeak = idle.togetherMB;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const u = usage(pid);
      peak = Math.max(peak, u.rssMB);
      hostPeak = Math.max(hostPeak, u.hostMB);
      togetherPeak = Math.max(togetherPeak, u.togetherMB);
      await sleep(200);
    }
  })();
  const r = await chain.fetch(port);
  done = true;
  await sampler;
  const after = usage(pid);
  const relayed = (await chain.proxyBytesFromServer()) - relayedBefore;
  return {
    ...r,
    idleMB: idle.rssMB,
    peakMB: peak,
    hostIdleMB: idle.hostMB,
    hostPeakMB: hostPeak,
    togetherIdleMB: idle.togetherMB,
    togetherPeakMB: togetherPeak,
    cpuPerMB: (after.cpuS - idle.cpuS) / (r.bytes / 1e6),
    relayed: relayed / r.bytes,
  };
}

export async function run(): Promise<void> {
  if (!CAN_NETNS) {
    console.log("client bench: needs root (network namespaces); skipped");
    return;
  }
  const chain = await Chain.start({ subnet: 33, fileSize: SIZE });
  try {
    type Measured = Awaited<ReturnType<typeof measured>>;
    const ours: Measured[] = [];
    const go: Measured[] = [];
    // Throughput, alternating, one proxy of the kind at the broker at a time.
    for (let round = 0; round < ROUNDS; round++) {
      const p = chain.ourProxy();
      await chain.waitForProxies();
      const c = await chain.ourClient();
      ours.push(await measured(chain, c.port, c.proc.pid));
      await c.proc.stop();
      await p.stop();
      const gp = chain.debianProxy();
      await chain.waitForProxies();
      const gc = await chain.goClient();
      go.push(await measured(chain, `${gc.port}+inner`, gc.proc.pid));
      await gc.proc.stop();
      await gp.stop();
    }
    const mem = (r: Measured) =>
      `  client RSS idle ${r.idleMB.toFixed(0)} MB, peak ${r.peakMB.toFixed(0)} MB` +
      (r.hostPeakMB > 0
        ? ` + WebRTC host idle ${r.hostIdleMB.toFixed(0)} MB, peak ${r.hostPeakMB.toFixed(0)} MB` +
          ` (together, shared pages once: idle ${r.togetherIdleMB.toFixed(0)} MB, ` +
          `peak ${r.togetherPeakMB.toFixed(0)} MB)`
        : "") +
      `, CPU ${r.cpuPerMB.toFixed(3)} s/MB; proxy received ${
        r.relayed.toFixed(2)
      } IP bytes from the server per payload byte`;
    for (const r of ours) console.log(line("ours (client + proxy)", r) + mem(r));
    for (const r of go) console.log(line("Go 2.5.1 (client + proxy)", r) + mem(r));
    const median = (rs: FetchResult[]) => rs.map(mbps).sort((a, b) => a - b)[rs.length >> 1]!;
    console.log(
      `throughput ratio ours/Go (medians of ${ROUNDS}): ` +
        `${(median(ours) / median(go)).toFixed(2)}x (target >= 5x); ours/${GO_CHAIN_MBPS} MB/s ` +
        `(the Go chain with the Go server, docs/client.md): ` +
        `${(median(ours) / GO_CHAIN_MBPS).toFixed(1)}x`,
    );

    // Longest stall when the proxy in use dies, --max 1.
    {
      chain.ourProxy();
      await chain.waitForProxies();
      const c = await chain.ourClient();
      const r = await stall(chain, c.port, () => chain.ourProxy());
      console.log(
        `ours --max 1, proxy killed: longest stall ${r.longestStall.toFixed(1)} s, ` +
          `stalls ${JSON.stringify(r.histogram)}, ${
            r.bytes === SIZE ? "intact" : "SHORT"
          } (target <= 12 s)`,
      );
      await c.proc.stop();
      for (const p of chain.net.procs.filter((p) => /proxy/.test(p.name))) await p.stop();
    }
    {
      chain.debianProxy();
      await chain.waitForProxies();
      const c = await chain.goClient();
      const r = await stall(chain, `${c.port}+inner`, () => chain.debianProxy());
      console.log(
        `Go --max 1, proxy killed: longest stall ${r.longestStall.toFixed(1)} s, ` +
          `stalls ${JSON.stringify(r.histogram)}, ${
            r.bytes === SIZE ? "intact" : "SHORT"
          } (Go reference 30.6 s)`,
      );
      await c.proc.stop();
    }
  } finally {
    await chain.stop();
  }
}

if (import.meta.main) await run();
