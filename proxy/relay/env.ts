/**
 * The `broker-proxy proxy` binary's adapter for the proxy core (core.ts): @roamhq/wrtc's peer
 * connections (passed in: in a host process, proxy/webrtc_process.ts), the relay dialed with
 * Deno's `WebSocketStream` (relay_dial.ts) with Nagle's algorithm turned off, Deno's fetch and
 * timers, and a STUN probe of our own so that answers go out as soon as their candidates are
 * usable. The web page's adapter (proxy/web/env.ts) differs only in these; a test passes another
 * {@link WebRTC} to run it over an in-memory twin.
 *
 * @module
 */
import { setTcpNoDelayToPort } from "../../lib/net/sockopt.ts";
import type { Conn } from "../../lib/net/types.ts";
import { probeStunServers } from "../../lib/snowflake/nat.ts";
import type { WebRTC } from "../../lib/snowflake/webrtc.ts";
import type { ProxyEnv } from "./core.ts";
import { dialRelay } from "./relay_dial.ts";

/** What the binary's log gets. */
export interface BinaryHooks {
  log(message: string): void;
  debug?(message: string): void;
}

/** The core's environment in the binary. */
export function binaryProxyEnv(hooks: BinaryHooks, webrtc: WebRTC): ProxyEnv {
  return {
    webrtc,
    dialRelay: dialRelayNoDelay,
    log: hooks.log,
    debug: hooks.debug,
    reflexive,
    freeRelayedChunks: true,
  };
}

/** The addresses the STUN servers saw us at with our port unchanged (lib/snowflake/nat.ts). */
async function reflexive(stunURLs: string[]): Promise<string[]> {
  return (await probeStunServers(stunURLs)).untranslated;
}

/**
 * The relay WebSocket without Nagle's algorithm: Deno's leaves it on, so the client's Turbo
 * Tunnel token and its first packets (separate data channel messages, separate WebSocket
 * messages) waited ~40 ms for the server's delayed ACK, as did every small message after an
 * unacknowledged one (docs/PROXY.md "Latency").
 */
export async function dialRelayNoDelay(url: string, signal: AbortSignal): Promise<Conn> {
  const conn = await dialRelay(url, signal);
  const u = new URL(url);
  setTcpNoDelayToPort(Number(u.port || (u.protocol === "wss:" ? 443 : 80)));
  return conn;
}
