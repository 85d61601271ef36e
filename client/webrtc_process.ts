/**
 * The client's WebRTC runs in a process of its own (docs/client.md "WebRTC in a process of its
 * own", lib/snowflake/webrtc_process.ts): client/main.ts run with `--webrtc-host-process`.
 *
 * @module
 */
import type { WebRTC } from "../lib/snowflake/webrtc.ts";
import { hostedWebRTC } from "../lib/snowflake/webrtc_process.ts";

/**
 * The client's V8 flags (tools/permissions.ts, docs/client.md "Memory"). A compiled binary
 * passes them to its host itself; from source the host is given them here.
 */
export const CLIENT_V8_FLAGS = "--max-semi-space-size=1,--max-opt=2";

/** The WebRTC the client uses: in a host process where it can start one. */
export function clientWebRTC(log: (m: string) => void): Promise<WebRTC> {
  return hostedWebRTC(
    { entry: new URL("./main.ts", import.meta.url), v8Flags: CLIENT_V8_FLAGS, role: "the client" },
    log,
  );
}
