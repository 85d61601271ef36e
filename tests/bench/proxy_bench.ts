/**
 * Proxy relay benchmark: throughput per client (MB/s, download and upload) and the proxy's CPU
 * per MB, our `broker-proxy proxy` beside Debian's snowflake-proxy 2.5.1 in the same topology —
 * client, broker and relay in namespace A, the proxy in namespace B, joined by a veth pair, so
 * WebRTC and the relay WebSocket both cross it. The client is a raw @roamhq/wrtc data channel and
 * the relay a WebSocket source/sink, so the proxy is what is measured, not KCP or tor.
 * Alternating rounds; medians printed (and the proxy's peak RSS). Needs root. `PROXY_BENCH_MB` (default 30) per direction,
 * `PROXY_BENCH_ROUNDS` (default 2) per proxy.
 *
 * @module
 */
import { NetnsPair } from "../proxy/netns.ts";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function run(): Promise<void> {
  if (Deno.uid() !== 0) {
    console.log("proxy bench: needs root (namespaces); skipped");
    return;
  }
  const mb = Deno.env.get("PROXY_BENCH_MB") ?? "30";
  const rounds = Deno.env.get("PROXY_BENCH_ROUNDS") ?? "2";
  const pair = await NetnsPair.create(7);
  try {
    const out = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        pair.first,
        Deno.execPath(),
        "run",
        "-A",
        new URL("./proxy_bench_driver.ts", import.meta.url).pathname,
        pair.second,
        pair.a,
        mb,
        rounds,
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const rows = JSON.parse(
      new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
    ) as Record<string, number | string>[];
    console.log(`proxy relay, one client, ${mb} MB each way per round, ${rounds} rounds each:`);
    const table = [[
      "proxy",
      "down MB/s",
      "up MB/s",
      "CPU s/MB down",
      "CPU s/MB up",
      "peak RSS MB",
    ]];
    for (const [kind, label] of [["ours", "ours (Deno)"], ["go", "Debian Go 2.5.1"]]) {
      const r = rows.filter((x) => x.kind === kind);
      const col = (k: string, digits: number) => median(r.map((x) => Number(x[k]))).toFixed(digits);
      table.push([
        label!,
        col("downMBps", 2),
        col("upMBps", 2),
        col("downCpuPerMB", 4),
        col("upCpuPerMB", 4),
        col("peakRssMB", 0),
      ]);
    }
    for (const row of table) {
      console.log(row.map((c, i) => (i === 0 ? c.padEnd(16) : c.padStart(14))).join(""));
    }
    console.log("per round:", JSON.stringify(rows));
  } finally {
    await pair.delete();
  }
}
