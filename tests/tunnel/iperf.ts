/**
 * iperf3 runs and CPU accounting inside a {@link Topology}, shared by the
 * `tunnel:iperf` test and the tunnel benchmark.
 *
 * @module
 */

import type { Topology } from "./netns.ts";

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[11]) + Number(rest[12]);
  return ticks / 100;
}

/** The outcome of one iperf3 TCP run. */
export interface IperfResult {
  bitsPerSecond: number;
  bytes: number;
  seconds: number;
  retransmits: number;
  /** Bytes sent in each one-second interval. */
  intervals: number[];
  error?: string;
}

/**
 * Runs `iperf3 -c target` from `clientNs` against a one-shot server in `serverNs`
 * bound to `target`. Returns the receiver's figures.
 */
export async function iperf(
  topo: Topology,
  serverNs: string,
  clientNs: string,
  target: string,
  seconds: number,
  port = 5201,
  streams = 1,
): Promise<IperfResult> {
  const server = topo.spawn(serverNs, "iperf3", [
    "-s",
    "-1",
    "--forceflush",
    "-B",
    target,
    "-p",
    String(port),
  ]);
  try {
    await server.waitFor(/Server listening/, 5000);
    const out = await topo.run(clientNs, "iperf3", [
      "-c",
      target,
      "-p",
      String(port),
      "-t",
      String(seconds),
      "-P",
      String(streams),
      "-J",
    ]);
    let json: {
      error?: string;
      intervals?: { sum?: { bytes: number } }[];
      end?: {
        sum_received?: { bytes: number; seconds: number; bits_per_second: number };
        sum_sent?: { retransmits?: number };
      };
    };
    try {
      json = JSON.parse(out.stdout);
    } catch {
      return {
        bitsPerSecond: 0,
        bytes: 0,
        seconds: 0,
        retransmits: 0,
        intervals: [],
        error: out.stderr || out.stdout,
      };
    }
    const r = json.end?.sum_received;
    return {
      bitsPerSecond: r?.bits_per_second ?? 0,
      bytes: r?.bytes ?? 0,
      seconds: r?.seconds ?? 0,
      retransmits: json.end?.sum_sent?.retransmits ?? 0,
      intervals: (json.intervals ?? []).map((i) => i.sum?.bytes ?? 0),
      error: json.error ?? (out.code !== 0 ? `iperf3 exited ${out.code}` : undefined),
    };
  } finally {
    await server.stop();
  }
}

/** Runs `fn` and reports the CPU seconds each of `pids` used meanwhile. */
export async function withCpu<T>(
  pids: number[],
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: number[] }> {
  const before = pids.map(cpuSeconds);
  const result = await fn();
  const cpu = pids.map((p, i) => cpuSeconds(p) - before[i]!);
  return { result, cpu };
}
