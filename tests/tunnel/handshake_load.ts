/**
 * Runs the handshake load generator in client A's namespace against the
 * environment's server, with peer a's key, and reports the rate.
 *
 * @module
 */

import { cpuSeconds } from "./iperf.ts";
import { PORT, type TunnelEnv } from "./env.ts";

const FIXTURE = new URL("./fixtures/handshake_flood.ts", import.meta.url).pathname;

/** Handshakes the server completed in `seconds`, and its CPU time meanwhile. */
export async function runHandshakeLoad(
  env: TunnelEnv,
  seconds: number,
): Promise<{ completed: number; seconds: number; serverCpu: number }> {
  const cpu0 = cpuSeconds(env.server.pid);
  const out = await env.topo.run(env.topo.clientA, Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-ffi",
    "--allow-env",
    FIXTURE,
    env.topo.serverIpA,
    String(PORT),
    env.keys.server.pub,
    env.keys.a.priv,
    String(seconds),
  ]);
  if (out.code !== 0) throw new Error(`handshake load failed: ${out.stderr}`);
  const r = JSON.parse(out.stdout.trim().split("\n").pop()!);
  return { ...r, serverCpu: cpuSeconds(env.server.pid) - cpu0 };
}
