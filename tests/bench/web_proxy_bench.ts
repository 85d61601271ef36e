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
import { HAS_CHROMIUM } from "../web_proxy/has_chromium.ts";
import { driveInNetns, printMedians } from "./relay_bench.ts";

export async function run(): Promise<void> {
  if (Deno.uid() !== 0 || !HAS_CHROMIUM) {
    console.log("web proxy bench: needs root (namespaces) and Chromium; skipped");
    return;
  }
  const mb = Deno.env.get("WEB_PROXY_BENCH_MB") ?? "20";
  const rounds = Deno.env.get("WEB_PROXY_BENCH_ROUNDS") ?? "1";
  const rows = await driveInNetns(43, "./web_proxy_bench_driver.ts", mb, rounds);
  console.log(`web proxy relay, one client, ${mb} MB each way per round, ${rounds} round(s):`);
  printMedians(
    rows,
    [["page", "page (Chromium)"], ["ours", "ours (Deno)"], ["go", "Debian Go 2.5.1"]],
    [{ key: "pssMB", header: "PSS MB" }],
  );
  console.log("(PSS after the upload: for the page, summed over every Chromium process)");
  console.log("per round:", JSON.stringify(rows));
}
