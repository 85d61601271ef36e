/**
 * `deno task bench client`: our client + our proxy beside Debian's snowflake-client +
 * snowflake-proxy (Go 2.5.1), same run, same broker, server and namespaces
 * (tests/client/chain.ts: client, broker and server in namespace A, the proxy in B; WebRTC and
 * the proxy's WebSocket cross the veth; no tor in the path). Both chains use our server: Debian
 * packages no snowflake-server, and docs/client.md compares with the Go server's figure.
 *
 * - single-stream download throughput (50 MB, from the HTTP request after the SOCKS
 *   handshakes to the last byte) and SOCKS connect to first byte;
 * - the client's RSS idle, its peak at start-up and under load (the kernel's VmHWM, reset just
 *   before the download) and CPU per MB; each proxy's peak RSS;
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

/** A process's resident memory and its peak since start or the last reset (MB), from /proc. */
function memory(pid: number): { rssMB: number; peakMB: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMB: kib("VmRSS") / 1024, peakMB: kib("VmHWM") / 1024 };
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

/** A process's private pages (MB): what it adds to another process mapping the same files. */
function privateMB(pid: number): number {
  try {
    const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(rollup)?.[1] ?? 0);
    return (kib("Private_Clean") + kib("Private_Dirty")) / 1024;
  } catch {
    return 0;
  }
}

/** CPU time (s) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

/**
 * Fetches, measuring the client and its WebRTC host: RSS idle, the client's peak before (start-up)
 * and each one's during the fetch (the kernel's VmHWM, reset before the fetch), the two together
 * (sampled; pages both map counted once), CPU seconds per MB of both.
 */
async function measured(
  chain: Chain,
  port: number | string,
  pid: number,
): Promise<
  FetchResult & {
    idleMB: number;
    startPeakMB: number;
    peakMB: number;
    hostIdleMB: number;
    hostPeakMB: number;
    togetherPeakMB: number;
    cpuPerMB: number;
    relayed: number;
  }
> {
  await sleep(1000);
  const hosts = children(pid);
  const idle = memory(pid);
  const hostIdleMB = hosts.reduce((n, h) => n + memory(h).rssMB, 0);
  const cpu = () => [pid, ...hosts].reduce((n, p) => n + cpuSeconds(p), 0);
  const cpuBefore = cpu();
  const relayedBefore = await chain.proxyBytesFromServer();
  for (const p of [pid, ...hosts]) {
    Deno.writeTextFileSync(`/proc/${p}/clear_refs`, "5"); // resets VmHWM to the current RSS
  }
  let togetherPeakMB = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const together = memory(pid).rssMB + hosts.reduce((n, h) => n + privateMB(h), 0);
      togetherPeakMB = Math.max(togetherPeakMB, together);
      await sleep(200);
    }
  })();
  const r = await chain.fetch(port);
  done = true;
  await sampler;
  const relayed = (await chain.proxyBytesFromServer()) - relayedBefore;
  return {
    ...r,
    idleMB: idle.rssMB,
    startPeakMB: idle.peakMB,
    peakMB: memory(pid).peakMB,
    hostIdleMB,
    hostPeakMB: hosts.reduce((n, h) => n + memory(h).peakMB, 0),
    togetherPeakMB,
    cpuPerMB: (cpu() - cpuBefore) / (r.bytes / 1e6),
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
    const proxyPeaks = { ours: [] as number[], go: [] as number[] };
    // Throughput, alternating, one proxy of the kind at the broker at a time.
    for (let round = 0; round < ROUNDS; round++) {
      const p = chain.ourProxy();
      await chain.waitForProxies();
      const c = await chain.ourClient();
      ours.push(await measured(chain, c.port, c.proc.pid));
      proxyPeaks.ours.push(memory(p.pid).peakMB);
      await c.proc.stop();
      await p.stop();
      const gp = chain.debianProxy();
      await chain.waitForProxies();
      const gc = await chain.goClient();
      go.push(await measured(chain, `${gc.port}+inner`, gc.proc.pid));
      proxyPeaks.go.push(memory(gp.pid).peakMB);
      await gc.proc.stop();
      await gp.stop();
    }
    const mem = (r: Measured) =>
      `  client RSS idle ${r.idleMB.toFixed(1)} MB, peak at start-up ${
        r.startPeakMB.toFixed(1)
      } MB, under load ${r.peakMB.toFixed(1)} MB` +
      (r.hostPeakMB > 0
        ? ` + WebRTC host idle ${r.hostIdleMB.toFixed(1)} MB, under load ${
          r.hostPeakMB.toFixed(1)
        } MB (together, shared pages once: peak ${r.togetherPeakMB.toFixed(1)} MB)`
        : "") +
      `, CPU ${r.cpuPerMB.toFixed(3)} s/MB; proxy received ${
        r.relayed.toFixed(2)
      } IP bytes from the server per payload byte`;
    for (const r of ours) console.log(line("ours (client + proxy)", r) + mem(r));
    for (const r of go) console.log(line("Go 2.5.1 (client + proxy)", r) + mem(r));
    const mbs = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
    console.log(
      `proxy peak RSS (VmHWM, whole life) ours ${mbs(proxyPeaks.ours)} MB; ` +
        `Go 2.5.1 ${mbs(proxyPeaks.go)} MB`,
    );
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
