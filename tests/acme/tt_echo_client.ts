/**
 * Subprocess for the `acme:` server test: dials `wss://…` (trusting the CA in
 * DENO_CERT), speaks Turbo Tunnel → KCP → smux, echoes N random bytes through
 * the server and its ORPort, and prints "echoed N".
 *
 * Usage: deno run -A tests/acme/tt_echo_client.ts URL N
 *
 * @module
 */
import { connectClient, echoThrough } from "../server/ws_client.ts";
import { randomBytes } from "../../lib/testing/util.ts";

const [url, size] = Deno.args;
if (!url || !size) throw new TypeError("usage: tt_echo_client.ts URL N");
const data = randomBytes(Number(size));
const client = await connectClient(url);
try {
  const back = await echoThrough(client, data);
  if (!back.every((b, i) => b === data[i])) throw new Error("echo differs");
  console.log(`echoed ${back.length}`);
} finally {
  client.close();
}
Deno.exit(0);
