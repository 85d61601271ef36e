/**
 * A handshake flood running in a namespace of a {@link Topology} while
 * something else is measured: pytunnel's own attack tool against pytunnel,
 * or junk WireGuard initiations against wireguard-go.
 *
 * @module
 */

import { runArgs } from "../../tools/permissions.ts";
import type { Proc, Topology } from "./netns.ts";

const WG_JUNK = new URL("./fixtures/wg_junk_flood.ts", import.meta.url).pathname;

/** What a flood sent: packets per second achieved, and the share of a core the sender used. */
export interface FloodSummary {
  packetsPerSecond: number;
  cpuShare: number;
}

/** A running flood; `stop()` ends it and resolves with what it sent. */
export interface RunningFlood {
  proc: Proc;
  stop(): Promise<FloodSummary>;
}

function running(proc: Proc): RunningFlood {
  return {
    proc,
    async stop() {
      await proc.stop();
      const last = proc.stdout.trim().split("\n").pop() ?? "";
      try {
        const r = JSON.parse(last);
        return {
          packetsPerSecond: Number(r.packetsPerSecond ?? 0),
          cpuShare: Number(r.cpuSeconds ?? 0) / Math.max(Number(r.seconds ?? 0), 1e-6),
        };
      } catch {
        return { packetsPerSecond: 0, cpuShare: NaN };
      }
    },
  };
}

/** pytunnel initiations with a valid mac1 for `serverKey`, `rate` per second. */
export function pytunnelFlood(
  topo: Topology,
  ns: string,
  target: string,
  serverKey: string,
  rate: number,
): RunningFlood {
  return running(topo.spawn(
    ns,
    Deno.execPath(),
    runArgs("pytunnel", [
      "attack",
      "flood",
      "--target",
      target,
      "--server-key",
      serverKey,
      "--count",
      String(rate * 600),
      "--spoof-cidr",
      "10.200.0.0/16",
      "--rate",
      String(rate),
    ]),
    "pytunnel flood",
  ));
}

/** Junk WireGuard initiations (bad mac1), `rate` per second. */
export function wireguardJunkFlood(
  topo: Topology,
  ns: string,
  host: string,
  port: number,
  rate: number,
): RunningFlood {
  return running(topo.spawn(
    ns,
    Deno.execPath(),
    ["run", "--allow-ffi", "--allow-read", WG_JUNK, host, String(port), String(rate)],
    "wireguard junk flood",
  ));
}
