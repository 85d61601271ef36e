/**
 * `deno run --allow-net --allow-read tests/client/tls_front_relay.ts CERT KEY UPSTREAM`: a
 * {@link startTlsFront} on loopback that relays each request to the plain-HTTP broker at
 * UPSTREAM, for a chain whose client fronts (it runs in the chain's namespace). Prints
 * `port N` once it listens, then each request's record as a JSON line.
 *
 * @module
 */
import { startTlsFront } from "./tls_front.ts";

const [certFile, keyFile, upstream] = Deno.args;
if (!certFile || !keyFile || !upstream) throw new TypeError("usage: CERT KEY UPSTREAM");
const cert = {
  caPem: "",
  certPem: await Deno.readTextFile(certFile),
  keyPem: await Deno.readTextFile(keyFile),
};
const front = await startTlsFront(cert, async (req) => {
  console.log(JSON.stringify(front.records.at(-1)));
  const url = new URL(req.url);
  const reply = await fetch(new URL(url.pathname + url.search, upstream), {
    method: req.method,
    body: req.method === "POST" ? await req.arrayBuffer() : undefined,
  });
  return new Response(await reply.arrayBuffer(), { status: reply.status });
});
console.log(`port ${front.port}`);
