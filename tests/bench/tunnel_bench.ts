/**
 * pytunnel against wireguard-go in the same namespaces and the same run:
 * iperf3 TCP throughput with 1 and 4 streams and CPU per GB, in alternating
 * rounds (the machine is shared and noisy: medians); throughput during a
 * 40k packets/s handshake flood beside the same without one, alternating
 * (wireguard-go under junk initiations at the same rate), with the server's
 * CPU per flood packet and the flood's achieved rate; both over IPv6
 * endpoints; handshakes per second. Run alone
 * with `deno run --unstable-net --allow-all tests/bench/tunnel_bench.ts` (as root).
 * TUNNEL_BENCH_SECONDS (default 8), TUNNEL_BENCH_ROUNDS (default 2) and
 * TUNNEL_BENCH_FLOOD_ROUNDS (default 3) set the length.
 */

import { PORT, SERVER_TUN, TunnelEnv, until } from "../tunnel/env.ts";
import { cpuSeconds, iperf, type IperfResult, withCpu } from "../tunnel/iperf.ts";
import { startWireguard, type WireguardPair } from "../tunnel/wireguard.ts";
import { addOuterIpv6, OUTER6_SERVER, startIpv6Tunnel } from "../tunnel/ipv6_pair.ts";
import { runHandshakeLoad } from "../tunnel/handshake_load.ts";
import {
  type FloodSummary,
  pytunnelFlood,
  type RunningFlood,
  wireguardJunkFlood,
} from "../tunnel/flood_run.ts";

const SECONDS = Number(Deno.env.get("TUNNEL_BENCH_SECONDS") ?? 8);
const ROUNDS = Number(Deno.env.get("TUNNEL_BENCH_ROUNDS") ?? 2);
const FLOOD_PPS = 40_000;
const FLOOD_ROUNDS = Number(Deno.env.get("TUNNEL_BENCH_FLOOD_ROUNDS") ?? 3);
/** How long the server's CPU is sampled under the flood before the iperf run. */
const CPU_PROBE_MS = 3000;
const WG_PORT = 51900;
const PORT6 = 51831;
const WG_PORT6 = 51901;

interface Sample {
  mbit: number;
  /** CPU seconds (server + client) per GB carried. */
  cpuPerGB: number;
  minSecondMB: number;
  error?: string;
}

function sample(r: IperfResult, cpu: number[]): Sample {
  const gb = r.bytes / 1e9;
  const total = cpu.reduce((a, b) => a + b, 0);
  return {
    mbit: r.bitsPerSecond / 1e6,
    cpuPerGB: gb > 0 ? total / gb : NaN,
    minSecondMB: r.intervals.length ? Math.min(...r.intervals) / 1e6 : 0,
    error: r.error,
  };
}

/** One tunnel's flood rounds: how to flood it and what each round measured. */
interface FloodTunnel {
  name: string;
  /** Server first. */
  pids: number[];
  target: string;
  start: () => RunningFlood;
  /** Resolves once the flood reaches the server. */
  reached: () => Promise<void>;
  rounds: { quiet: Sample; loaded: Sample; serverUs: number; sent: FloodSummary }[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function show(name: string, xs: Sample[]): string {
  const errs = xs.flatMap((x) => (x.error ? [x.error] : []));
  return `${name.padEnd(13)} ${median(xs.map((x) => x.mbit)).toFixed(0).padStart(5)} Mbit/s ` +
    `(rounds: ${xs.map((x) => x.mbit.toFixed(0)).join(", ")})  ` +
    `CPU ${median(xs.map((x) => x.cpuPerGB)).toFixed(2)} s/GB` +
    (errs.length ? `  ERRORS ${errs.join("; ")}` : "");
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  if (Deno.uid() !== 0) {
    console.log("tunnel bench: needs root (network namespaces); skipped");
    return;
  }
  const env = await TunnelEnv.create(100_000);
  const { topo } = env;
  let wg: WireguardPair | undefined;
  try {
    wg = await startWireguard(topo, WG_PORT);
    const pyPids = [env.server.pid, env.clientA.pid];
    const wgPids = [wg.server.pid, wg.client.pid];
    const measure = async (pids: number[], target: string, streams: number) => {
      const r = await withCpu(
        pids,
        () => iperf(topo, topo.server, topo.clientA, target, SECONDS, 5201, streams),
      );
      return sample(r.result, r.cpu);
    };

    console.log(
      `iperf3 TCP, ${SECONDS} s, client A -> server, same veth, ${ROUNDS} alternating rounds ` +
        `(median):`,
    );
    const noFlood: Record<string, Sample[]> = {};
    for (const streams of [1, 4]) {
      const py: Sample[] = [], w: Sample[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        py.push(await measure(pyPids, SERVER_TUN, streams));
        w.push(await measure(wgPids, wg.serverTunnelIp, streams));
      }
      noFlood[`py${streams}`] = py;
      noFlood[`wg${streams}`] = w;
      const ratio = median(py.map((x) => x.mbit)) / median(w.map((x) => x.mbit));
      const cpu = median(py.map((x) => x.cpuPerGB)) / median(w.map((x) => x.cpuPerGB));
      console.log(` ${streams} stream${streams > 1 ? "s" : ""}:`);
      console.log(`  ${show("pytunnel", py)}`);
      console.log(`  ${show("wireguard-go", w)}`);
      console.log(
        `  pytunnel / wireguard-go: throughput ${ratio.toFixed(2)}x (target >= 0.8x), ` +
          `CPU per GB ${cpu.toFixed(2)}x (target <= 1.3x)`,
      );
    }

    console.log(
      `during a ${FLOOD_PPS / 1000}k packets/s handshake flood from client B's namespace ` +
        `(1 stream), ${FLOOD_ROUNDS} rounds alternating without and with the flood:`,
    );
    const shed = async () => {
      const r = await env.serverStatus();
      return (r.counters.cookieReplies ?? 0) + (r.drops.cookieBudget ?? 0) +
        (r.drops.handshakeQueue ?? 0) + (r.drops.ratelimit ?? 0);
    };
    const tunnels: FloodTunnel[] = [
      {
        name: "pytunnel",
        pids: pyPids,
        target: SERVER_TUN,
        start: () =>
          pytunnelFlood(
            topo,
            topo.clientB,
            `${topo.serverIpB}:${PORT}`,
            env.keys.server.pub,
            FLOOD_PPS,
          ),
        reached: async () => {
          const shed0 = await shed();
          await until(
            "the pytunnel flood to reach the server",
            async () => (await shed()) - shed0 > 5000,
            20_000,
          );
        },
        rounds: [],
      },
      {
        name: "wireguard-go",
        pids: wgPids,
        target: wg.serverTunnelIp,
        start: () => wireguardJunkFlood(topo, topo.clientB, topo.serverIpB, WG_PORT, FLOOD_PPS),
        reached: () => new Promise((r) => setTimeout(r, 1500)),
        rounds: [],
      },
    ];
    for (let i = 0; i < FLOOD_ROUNDS; i++) {
      for (const t of tunnels) {
        const quiet = await measure(t.pids, t.target, 1);
        const f = t.start();
        let loaded: Sample, serverUs: number, sent: FloodSummary;
        try {
          await t.reached();
          // The server's CPU per flood packet, with no data flowing.
          const cpu0 = cpuSeconds(t.pids[0]!);
          const t0 = performance.now();
          await new Promise((r) => setTimeout(r, CPU_PROBE_MS));
          const secs = (performance.now() - t0) / 1000;
          serverUs = ((cpuSeconds(t.pids[0]!) - cpu0) / (secs * FLOOD_PPS)) * 1e6;
          loaded = await measure(t.pids, t.target, 1);
        } finally {
          sent = await f.stop();
        }
        t.rounds.push({ quiet, loaded, serverUs, sent });
      }
    }
    const ratios: Record<string, number> = {};
    for (const t of tunnels) {
      const r = t.rounds;
      ratios[t.name] = median(r.map((x) => x.loaded.mbit / x.quiet.mbit));
      console.log(
        `  ${t.name.padEnd(13)} ${
          ratios[t.name]!.toFixed(2)
        }x of no-flood (median; target >= 0.5x)` +
          `  rounds (flood / none, Mbit/s): ` +
          r.map((x) => `${x.loaded.mbit.toFixed(0)}/${x.quiet.mbit.toFixed(0)}`).join(", ") +
          `; slowest second ${Math.min(...r.map((x) => x.loaded.minSecondMB)).toFixed(1)} MB` +
          r.flatMap((x) => (x.loaded.error ? [`  ERROR ${x.loaded.error}`] : [])).join(""),
      );
      console.log(
        `  ${"".padEnd(13)} server CPU per flood packet ` +
          `${median(r.map((x) => x.serverUs)).toFixed(1)} µs; flood sent ` +
          r.map((x) => x.sent.packetsPerSecond).join(", ") + ` packets/s using ` +
          r.map((x) => `${(x.sent.cpuShare * 100).toFixed(0)}%`).join(", ") + ` of a core`,
      );
    }

    await addOuterIpv6(topo);
    const py6 = await startIpv6Tunnel(topo, PORT6);
    const wg6 = await startWireguard(topo, WG_PORT6, {
      endpointHost: OUTER6_SERVER,
      subnet: "10.67.0",
      tag: "6",
    });
    try {
      const py: Sample[] = [], w: Sample[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        py.push(await measure([py6.server.pid, py6.client.pid], py6.serverTunnelIp, 1));
        w.push(await measure([wg6.server.pid, wg6.client.pid], wg6.serverTunnelIp, 1));
      }
      console.log(`over IPv6 endpoints (outer UDP over IPv6, inner IPv4), 1 stream:`);
      console.log(`  ${show("pytunnel", py)}`);
      console.log(`  ${show("wireguard-go", w)}`);
      console.log(
        `  pytunnel / wireguard-go: throughput ` +
          `${(median(py.map((x) => x.mbit)) / median(w.map((x) => x.mbit))).toFixed(2)}x, ` +
          `CPU per GB ` +
          `${(median(py.map((x) => x.cpuPerGB)) / median(w.map((x) => x.cpuPerGB))).toFixed(2)}x`,
      );
    } finally {
      await Promise.all([wg6.stop(), py6.server.stop(), py6.client.stop()]);
    }

    const hs = await runHandshakeLoad(env, 5);
    console.log(
      `handshakes: ${hs.completed} completed in ${hs.seconds.toFixed(1)} s = ` +
        `${(hs.completed / hs.seconds).toFixed(0)}/s (server CPU ${hs.serverCpu.toFixed(1)} s)`,
    );
  } finally {
    await wg?.stop();
    await env.destroy();
  }
}

if (import.meta.main) await run();
