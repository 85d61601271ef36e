/**
 * The broker-proxy binary: `broker-proxy broker [flags]` runs the Snowflake broker,
 * `broker-proxy proxy [flags]` the standalone proxy (README "Broker", "Proxy").
 *
 * @module
 */

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
    default:
      console.error(USAGE);
      return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
