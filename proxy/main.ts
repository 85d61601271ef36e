/**
 * The broker-proxy binary: `broker-proxy broker [flags]` runs the Snowflake broker,
 * `broker-proxy proxy [flags]` the standalone proxy (README "Broker", "Proxy").
 *
 * @module
 */
import "../lib/process/no_inspector.ts";
import { isHelpFlag, isVersionFlag } from "../lib/process/args.ts";
import { BROKER_VERSION, runBroker } from "./broker/main.ts";
import { runProxy } from "./relay/main.ts";

const USAGE = "usage: broker-proxy broker|proxy [flags] (-help for a role's flags)";

/** Dispatches on the role named by the first argument; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [role, ...rest] = args;
  switch (role) {
    case "broker":
      return await runBroker(rest);
    case "proxy":
      return await runProxy(rest);
    default:
      if (role !== undefined && isVersionFlag(role)) {
        console.error(`broker-proxy ${BROKER_VERSION}`);
        return 0;
      }
      console.error(USAGE);
      return role !== undefined && isHelpFlag(role) ? 0 : 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
