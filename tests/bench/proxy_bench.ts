/**
 * Proxy relay benchmark: throughput per client (MB/s, download and upload) and the proxy's CPU
 * per MB, our `broker-proxy proxy` beside Debian's snowflake-proxy 2.5.1 in the same topology —
 * client, broker and relay in namespace A, the proxy in namespace B, joined by a veth pair, so
 * WebRTC and the relay WebSocket both cross it. The client is a raw @roamhq/wrtc data channel and
 * the relay a WebSocket source/sink, so the proxy is what is measured, not KCP or tor.
 * Alternating rounds; medians printed, and the peak RSS of our proxy and of its WebRTC host
 * process (their VmHWM, each and summed; CPU counts both). Needs root. `PROXY_BENCH_MB` (default
 * 30) per direction, `PROXY_BENCH_ROUNDS` (default 2) per proxy.
 *
 * @module
 */
import { driveInNetns, printMedians } from "./relay_bench.ts";

export async function run(): Promise<void> {
  if (Deno.uid() !== 0) {
    console.log("proxy bench: needs root (namespaces); skipped");
    return;
  }
  const mb = Deno.env.get("PROXY_BENCH_MB") ?? "30";
  const rounds = Deno.env.get("PROXY_BENCH_ROUNDS") ?? "2";
  const rows = await driveInNetns(7, "./proxy_bench_driver.ts", mb, rounds);
  console.log(`proxy relay, one client, ${mb} MB each way per round, ${rounds} rounds each:`);
  printMedians(rows, [["ours", "ours (Deno)"], ["go", "Debian Go 2.5.1"]], [
    { key: "peakRssMB", header: "peak RSS MB" },
    { key: "hostPeakRssMB", header: "host's" },
    { key: "totalPeakRssMB", header: "sum" },
    { key: "togetherPeakMB", header: "together" },
  ]);
  console.log(
    "(peak RSS: the proxy's VmHWM, its WebRTC host's, their sum; together: the proxy's RSS " +
      "plus the host's private pages, sampled every 200 ms while relaying)",
  );
  console.log("per round:", JSON.stringify(rows));
}
