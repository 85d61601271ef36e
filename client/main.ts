/**
 * Entry point of the Snowflake client (README: Client; client/run_client.ts), and of its WebRTC
 * host process when started with {@link HOST_ARG} (lib/snowflake/webrtc_process.ts). The rest of the
 * client is loaded only once its host is on its way, and the host loads none of it.
 *
 * @module
 */
import "../lib/process/no_inspector.ts";
import { HOST_ARG, runWebRTCHost } from "../lib/snowflake/webrtc_process.ts";
import { startClientWebRTCHost } from "./webrtc_process.ts";

if (import.meta.main) {
  if (Deno.args[0] === HOST_ARG) {
    await runWebRTCHost();
    Deno.exit(0);
  }
  const host = await startClientWebRTCHost();
  let code: number;
  try {
    const { runClient } = await import("./run_client.ts");
    code = await runClient(host);
  } finally {
    await host?.stop();
  }
  Deno.exit(code);
}
