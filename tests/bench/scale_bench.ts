/**
 * The multi-instance bridge (docs/SCALING.md): total throughput and CPU with 1 vs 3 tor
 * instances behind HAProxy, 20 tor clients (through the test PT, straight to our server:
 * no proxy in this chain) each downloading a file at once, on the e2e Tor network. Prints
 * per-role CPU and the busiest process, i.e. where the bottleneck is.
 *
 * Run alone: `deno run --unstable-net --allow-all tests/bench/scale_bench.ts` (root).
 *
 * @module
 */
import { BINARIES } from "../../tools/permissions.ts";
import { randomBytes, sha256Hex } from "../../lib/testing/util.ts";
import { procUsage } from "../server/proc.ts";
import { startBridgeSite } from "../e2e/bridge_site.ts";
import {
  CAN_RUN,
  denoExec,
  IP,
  ORIGIN_PORT,
  type TorClient,
  type TorNetwork,
  torNetwork,
} from "../e2e/harness.ts";

const CLIENTS = 20;
const FILE_BYTES = 5_000_000;

/** The role of a process in the namespace, from its command line. */
function role(cmdline: string): string {
  if (cmdline.includes("extor_static_cookie.ts")) return "extor-static-cookie";
  if (cmdline.includes("server/main.ts") && cmdline.includes("--config")) return "server";
  if (cmdline.includes("server/main.ts")) return "other";
  if (cmdline.includes("test_pt_client.ts")) return "client PT";
  if (/haproxy/.test(cmdline)) return "haproxy";
  if (/tor -f .*\/bench-\d+\/tor\d+\/torrc/.test(cmdline)) return "bridge tor";
  if (/tor -f .*\/client\d+\/torrc/.test(cmdline)) return "client tor";
  if (/tor -f .*\/(auth|relay\d)\/torrc/.test(cmdline)) return "exit relays";
  if (cmdline.includes("curl")) return "curl";
  return "other";
}

/** CPU seconds of every process in the namespace by pid, with its role. */
async function sample(net: TorNetwork): Promise<Map<number, { role: string; cpu: number }>> {
  const out = new Map<number, { role: string; cpu: number }>();
  const r = new Deno.Command("ip", { args: ["netns", "pids", net.ns], stdout: "piped" });
  const pids = new TextDecoder().decode((await r.output()).stdout).split(/\s+/).filter(Boolean);
  for (const p of pids.map(Number)) {
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${p}/cmdline`).replaceAll("\0", " ");
      out.set(p, { role: role(cmdline), cpu: procUsage(p).cpuSeconds });
    } catch { /* exited */ }
  }
  return out;
}

/** Busy and total CPU ticks of the whole machine (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

async function measure(
  net: TorNetwork,
  instances: number,
  run: number,
  url: string,
  sha: string,
) {
  const site = await startBridgeSite(net, {
    name: `bench-${run}`,
    instances,
    wsPort: 8110 + run,
    basePort: 10500 + 100 * run,
    debugLog: false,
  });
  const clients: TorClient[] = [];
  try {
    clients.push(
      ...await Promise.all(Array.from({ length: CLIENTS }, () =>
        net.startClient({
          bridge: site.bridgeLine(),
          transportPlugin: `snowflake ${
            denoExec("tests/e2e/test_pt_client.ts", BINARIES.client!.flags, [
              "--url",
              site.serverUrl,
            ])
          }`,
          timeoutMs: 300_000,
        }))),
    );
    const before = await sample(net);
    const m0 = machineTicks();
    const t0 = performance.now();
    const got = await Promise.all(
      clients.map((c, k) => net.curl(c, url, `bench-${run}-${k}.bin`)),
    );
    const seconds = (performance.now() - t0) / 1000;
    const m1 = machineTicks();
    const machineBusy = (m1.busy - m0.busy) / (m1.total - m0.total);
    const after = await sample(net);
    const intact = got.filter((g) => g.sha256 === sha).length;
    const byRole = new Map<string, number>();
    let busiest = { role: "", pid: 0, cpu: 0 };
    for (const [pid, a] of after) {
      const cpu = a.cpu - (before.get(pid)?.cpu ?? 0);
      byRole.set(a.role, (byRole.get(a.role) ?? 0) + cpu);
      if (cpu > busiest.cpu && a.role !== "other") busiest = { role: a.role, pid, cpu };
    }
    const stats = await site.stats();
    const mb = (CLIENTS * FILE_BYTES) / 1e6;
    console.log(
      `${instances} tor instance${instances > 1 ? "s" : ""}: ${CLIENTS} × ${FILE_BYTES / 1e6} MB ` +
        `in ${seconds.toFixed(1)} s = ${(mb / seconds).toFixed(2)} MB/s total ` +
        `(${intact}/${CLIENTS} intact); HAProxy sessions ` +
        [...stats].map(([k, s]) => `${k} ${s.stot}`).join(", "),
    );
    const roles = [...byRole].filter(([r]) => r !== "other").sort((a, b) => b[1] - a[1]);
    const ours = [...byRole.values()].reduce((a, b) => a + b, 0) / seconds;
    console.log(
      `  CPU (cores busy): machine ${(machineBusy * navigator.hardwareConcurrency).toFixed(2)} ` +
        `of ${navigator.hardwareConcurrency}, this run's processes ${ours.toFixed(2)}: ` +
        roles.map(([r, c]) => `${r} ${(c / seconds).toFixed(2)}`).join(", "),
    );
    console.log(
      `  server CPU: ${(byRole.get("server") ?? 0).toFixed(1)} s = ` +
        `${((byRole.get("server") ?? 0) / mb * 1000).toFixed(1)} ms/MB`,
    );
    const share = busiest.cpu / seconds;
    const [topRole, topCpu] = roles[0] ?? ["", 0];
    console.log(
      `  busiest process: ${busiest.role} (pid ${busiest.pid}) at ${(share * 100).toFixed(0)}% ` +
        "of a core; bottleneck: " + (share > 0.85
          ? `${busiest.role}, one process saturating a core`
          : machineBusy > 0.9
          ? `the CPU (machine ${(machineBusy * 100).toFixed(0)}% busy), most of it ${topRole} ` +
            `(${(topCpu / seconds).toFixed(2)} cores)`
          : "no process and not the CPU: latency-bound (windows, round trips)"),
    );
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await site.stop();
  }
}

export async function run(): Promise<void> {
  if (!CAN_RUN) {
    console.log("skipped: needs root, tor and tor-gencert");
    return;
  }
  const net = await torNetwork();
  const data = randomBytes(FILE_BYTES);
  await Deno.writeFile(`${net.dir}/www/bench.bin`, data);
  const url = `http://${IP}:${ORIGIN_PORT}/bench.bin`;
  const sha = await sha256Hex(data);
  console.log(
    `machine: ${navigator.hardwareConcurrency} cores (shared); every process, the exit relays ` +
      "and the 20 tor clients included, runs on them",
  );
  // Alternating, twice each: the machine is shared and noisy.
  for (const [run, n] of [1, 3, 3, 1].entries()) await measure(net, n, run, url, sha);
}

if (import.meta.main) await run();
