/**
 * The broker-proxy binary: `broker-proxy broker [flags]` runs the Snowflake broker,
 * `broker-proxy proxy [flags]` the standalone proxy (README "Broker", "Proxy"). The proxy starts
 * the binary again as its WebRTC host (`--webrtc-host-process`, proxy/webrtc_process.ts).
 *
 * @module
 */
import "../lib/process/no_inspector.ts";
import { isHelpFlag, isVersionFlag, programArgs } from "../lib/process/args.ts";
import { HOST_ARG, runWebRTCHost } from "../lib/snowflake/webrtc_process.ts";

const USAGE = "usage: broker-proxy broker|proxy [flags] (-help for a role's flags)";

/** Dispatches on the role named by the first argument; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [role, ...rest] = args;
  switch (role) {
    // Each role loads only its own code (the proxy's libwebrtc, the broker's HTTP server).
    case "broker":
      return await (await import("./broker/main.ts")).runBroker(rest);
    case "proxy":
      return await (await import("./relay/main.ts")).runProxy(rest);
    case HOST_ARG:
      await runWebRTCHost();
      return 0;
    default:
      if (role !== undefined && isVersionFlag(role)) {
        const { BROKER_VERSION } = await import("./broker/main.ts");
        console.error(`broker-proxy ${BROKER_VERSION}`);
        return 0;
      }
      console.error(USAGE);
      return role !== undefined && isHelpFlag(role) ? 0 : 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(programArgs()));
}
