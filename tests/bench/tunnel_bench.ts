/**
 * pytunnel against wireguard-go in the same namespaces and the same run:
 * iperf3 TCP throughput and CPU per Gbit on each side, the handshakes per
 * second the server completes, and the packets per second it sheds under a
 * spoofed initiation flood. Run alone with
 * `deno run --unstable-net --allow-all tests/bench/tunnel_bench.ts` (as root).
 */

import { PORT, SERVER_TUN, TunnelEnv } from "../tunnel/env.ts";
import { cpuSeconds, iperf, type IperfResult, withCpu } from "../tunnel/iperf.ts";
import { startWireguard } from "../tunnel/wireguard.ts";
import { runArgs } from "../../tools/permissions.ts";
import { runHandshakeLoad } from "../tunnel/handshake_load.ts";

const SECONDS = Number(Deno.env.get("TUNNEL_BENCH_SECONDS") ?? 10);

function line(name: string, r: IperfResult, cpu: number[]): string {
  const gbit = (r.bytes * 8) / 1e9;
  const per = (c: number) => (gbit > 0 ? (c / gbit).toFixed(2) : "n/a");
  return `${name.padEnd(13)} ${(r.bitsPerSecond / 1e6).toFixed(0).padStart(5)} Mbit/s  ` +
    `retransmits ${String(r.retransmits).padStart(6)}  CPU s/Gbit: server ${per(cpu[0]!)}, ` +
    `client ${per(cpu[1]!)}${r.error ? `  ERROR ${r.error}` : ""}`;
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  if (Deno.uid() !== 0) {
    console.log("tunnel bench: needs root (network namespaces); skipped");
    return;
  }
  const env = await TunnelEnv.create(100_000);
  const { topo } = env;
  try {
    const wg = await startWireguard(topo);
    const py = await withCpu(
      [env.server.pid, env.clientA.pid],
      () => iperf(topo, topo.server, topo.clientA, SERVER_TUN, SECONDS),
    );
    const wgr = await withCpu(
      [wg.server.pid, wg.client.pid],
      () => iperf(topo, topo.server, topo.clientA, wg.serverTunnelIp, SECONDS),
    );
    await wg.stop();
    console.log(`iperf3 TCP, 1 stream, ${SECONDS} s, client A -> server, same namespaces:`);
    console.log(line("pytunnel", py.result, py.cpu));
    console.log(line("wireguard-go", wgr.result, wgr.cpu));
    const ratio = wgr.result.bitsPerSecond > 0
      ? py.result.bitsPerSecond / wgr.result.bitsPerSecond
      : 0;
    console.log(`ratio pytunnel / wireguard-go: ${ratio.toFixed(2)}x (target >= 0.5x)`);

    // Handshakes: fresh clients handshake with the server as fast as it answers.
    const hs = await runHandshakeLoad(env, 5);
    console.log(
      `handshakes: ${hs.completed} completed in ${hs.seconds.toFixed(1)} s = ` +
        `${(hs.completed / hs.seconds).toFixed(0)}/s (server CPU ${hs.serverCpu.toFixed(1)} s)`,
    );

    // Flood: spoofed initiations as fast as a raw socket sends them.
    const before = await env.serverStatus();
    const cpu0 = cpuSeconds(env.server.pid);
    const t0 = performance.now();
    const out = await topo.run(
      topo.clientA,
      Deno.execPath(),
      runArgs("pytunnel", [
        "attack",
        "flood",
        "--target",
        `${topo.serverIpA}:${PORT}`,
        "--server-key",
        env.keys.server.pub,
        "--count",
        "200000",
      ]),
    );
    // Let the server drain its socket queue before reading its counters.
    await new Promise((r) => setTimeout(r, 1000));
    const seconds = (performance.now() - t0) / 1000 - 1;
    const after = await env.serverStatus();
    // Every initiation without a valid cookie is counted once in drops (cookie, when answered
    // with a challenge); cookieReplies counts the same packets again, so it is left out.
    const sum = (r: typeof before) => Object.values(r.drops).reduce((a, b) => a + b, 0);
    const handled = sum(after) - sum(before);
    const sent = out.code === 0 ? JSON.parse(out.stdout.trim().split("\n").pop()!).sent : 0;
    console.log(
      `flood: ${sent} spoofed initiations sent in ${seconds.toFixed(1)} s; server answered or ` +
        `dropped ${handled} (${(handled / seconds).toFixed(0)}/s), dhUnverified ` +
        `${after.counters.dhUnverified}, server CPU ${
          (cpuSeconds(env.server.pid) - cpu0).toFixed(1)
        } s`,
    );
  } finally {
    await env.destroy();
  }
}

if (import.meta.main) await run();
