/**
 * The `broker-proxy proxy` binary's adapter for the proxy core (core.ts): @roamhq/wrtc's peer
 * connections (lib/snowflake/webrtc_wrtc.ts), the relay dialed with Deno's `WebSocketStream`
 * (relay_dial.ts), Deno's fetch and timers. The web page's adapter (proxy/web/env.ts) differs
 * only in these; a test passes another {@link WebRTC} to run it over an in-memory twin.
 *
 * @module
 */
import type { WebRTC } from "../../lib/snowflake/webrtc.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import type { ProxyEnv } from "./core.ts";
import { dialRelay } from "./relay_dial.ts";

/** What the binary's log gets. */
export interface BinaryHooks {
  log(message: string): void;
  debug?(message: string): void;
}

/** The core's environment in the binary. */
export function binaryProxyEnv(hooks: BinaryHooks, webrtc: WebRTC = wrtcWebRTC): ProxyEnv {
  return { webrtc, dialRelay, log: hooks.log, debug: hooks.debug };
}
