/**
 * Web proxy benchmark: relay throughput per client (MB/s, download and upload) and CPU per MB
 * of the page in headless Chromium, beside our `broker-proxy proxy` and Debian's
 * snowflake-proxy 2.5.1, in the same run and topology — client, broker, STUN and relay in
 * namespace A, the proxy in namespace B, joined by a veth pair (tests/bench/
 * web_proxy_bench_driver.ts). Medians printed. Needs root and Chromium. `WEB_PROXY_BENCH_MB`
 * (default 20) per direction, `WEB_PROXY_BENCH_ROUNDS` (default 1) per proxy.
 *
 * @module
 */
import { NetnsPair } from "../proxy/netns.ts";
import { HAS_CHROMIUM } from "../web_proxy/has_chromium.ts";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function run(): Promise<void> {
  if (Deno.uid() !== 0 || !HAS_CHROMIUM) {
    console.log("web proxy bench: needs root (namespaces) and Chromium; skipped");
    return;
  }
  const mb = Deno.env.get("WEB_PROXY_BENCH_MB") ?? "20";
  const rounds = Deno.env.get("WEB_PROXY_BENCH_ROUNDS") ?? "1";
  const pair = await NetnsPair.create(43);
  try {
    const out = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        pair.first,
        Deno.execPath(),
        "run",
        "-A",
        new URL("./web_proxy_bench_driver.ts", import.meta.url).pathname,
        pair.second,
        pair.a,
        mb,
        rounds,
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).slice(-3000));
    const rows = JSON.parse(
      new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
    ) as Record<string, number | string>[];
    console.log(`web proxy relay, one client, ${mb} MB each way per round, ${rounds} round(s):`);
    const table = [["proxy", "down MB/s", "up MB/s", "CPU s/MB down", "CPU s/MB up", "PSS MB"]];
    for (
      const [kind, label] of [
        ["page", "page (Chromium)"],
        ["ours", "ours (Deno)"],
        ["go", "Debian Go 2.5.1"],
      ]
    ) {
      const r = rows.filter((x) => x.kind === kind);
      const col = (k: string, digits: number) => median(r.map((x) => Number(x[k]))).toFixed(digits);
      table.push([
        label!,
        col("downMBps", 2),
        col("upMBps", 2),
        col("downCpuPerMB", 4),
        col("upCpuPerMB", 4),
        col("pssMB", 0),
      ]);
    }
    for (const row of table) {
      console.log(row.map((c, i) => (i === 0 ? c.padEnd(18) : c.padStart(14))).join(""));
    }
    console.log("(PSS after the upload: for the page, summed over every Chromium process)");
    console.log("per round:", JSON.stringify(rows));
  } finally {
    await pair.delete();
  }
}
