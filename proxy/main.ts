/**
 * `broker-proxy`: the Snowflake broker and the standalone proxy in one binary.
 * `broker-proxy proxy [flags]` runs the proxy (README "Proxy").
 *
 * @module
 */
import { runProxy } from "./relay/main.ts";

const USAGE = "Usage: broker-proxy proxy [OPTIONS]   (--help for the options)";

if (import.meta.main) {
  const [role, ...rest] = Deno.args;
  if (role === "proxy") Deno.exit(await runProxy(rest));
  console.error(USAGE);
  Deno.exit(2);
}
