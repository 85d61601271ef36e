/** Prints the NAT behaviour lib/snowflake/nat.ts finds against a STUN server, as JSON. */
import { discoverNat } from "../../lib/snowflake/nat.ts";

console.log(JSON.stringify(await discoverNat(Deno.args[0]!, { intervalMs: 500 })));
