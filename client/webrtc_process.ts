/**
 * The client's WebRTC runs in a process of its own (docs/client.md "WebRTC in a process of its
 * own", lib/snowflake/webrtc_process.ts): client/main.ts run with `--webrtc-host-process`.
 *
 * @module
 */
import type { WebRTC } from "../lib/snowflake/webrtc.ts";
import type { IsolatedWebRTC } from "../lib/snowflake/webrtc_isolated.ts";
import { type HostBinary, hostedWebRTC, startWebRTCHost } from "../lib/snowflake/webrtc_process.ts";

/**
 * The client's V8 flags (tools/permissions.ts, docs/client.md "Memory"). A compiled binary
 * passes them to its host itself; from source the host is given them here.
 */
export const CLIENT_V8_FLAGS = "--max-semi-space-size=1,--max-opt=2";

const CLIENT: HostBinary = {
  entry: new URL("./main.ts", import.meta.url),
  v8Flags: CLIENT_V8_FLAGS,
  role: "the client",
};

/** Starts the client's WebRTC host now (client/main.ts does, before loading the client). */
export function startClientWebRTCHost(): Promise<IsolatedWebRTC | null> {
  return startWebRTCHost(CLIENT);
}

/** The WebRTC the client uses: `host`, else one started now, else in-process (with a warning). */
export function clientWebRTC(
  log: (m: string) => void,
  host?: IsolatedWebRTC | null,
): Promise<WebRTC> {
  return hostedWebRTC(CLIENT, log, host);
}
