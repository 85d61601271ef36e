/**
 * The proxy's WebRTC runs in a process of its own (docs/PROXY.md "WebRTC in a host process",
 * lib/snowflake/webrtc_process.ts): proxy/main.ts run with `--webrtc-host-process`, one host
 * for the whole proxy.
 *
 * @module
 */
import type { WebRTC } from "../lib/snowflake/webrtc.ts";
import { hostedWebRTC } from "../lib/snowflake/webrtc_process.ts";

/**
 * The broker-proxy binary's V8 flags (tools/permissions.ts). A compiled binary passes them to
 * its host itself; from source the host is given them here.
 */
export const BROKER_PROXY_V8_FLAGS = "--max-semi-space-size=1,--heap-growing-percent=20";

/** The WebRTC the proxy uses: in a host process where it can start one. */
export function proxyWebRTC(log: (m: string) => void): Promise<WebRTC> {
  return hostedWebRTC(
    {
      entry: new URL("./main.ts", import.meta.url),
      v8Flags: BROKER_PROXY_V8_FLAGS,
      role: "the proxy",
    },
    log,
  );
}
