/**
 * A stand-in for an AMP cache, for the `amp:` chain test: it serves only the cache's URL
 * scheme, `/c/[s/]<publisher host>/<path>`, checks that the Host the client sent is that
 * publisher's cache subdomain, and fetches `<path>` from the publisher it was told about
 * (our broker), passing its reply through unchanged (the broker armors AMP replies itself).
 *
 * Usage: deno run --allow-net amp_cache_fixture.ts LISTEN_IP:PORT PUBLISHER_HOST BROKER_URL
 *
 * @module
 */
import { domainPrefix } from "../../lib/snowflake/amp_cache.ts";

const [listen, publisher, broker] = Deno.args;
if (!listen || !publisher || !broker) throw new TypeError("usage: LISTEN PUBLISHER BROKER");
const [hostname, port] = listen.split(":");
let served = 0;

Deno.serve(
  { hostname, port: Number(port), onListen: () => console.log("listening") },
  async (req) => {
    const url = new URL(req.url);
    const m = /^\/c\/(?:s\/)?([^/]+)\/(.*)$/.exec(url.pathname);
    const host = (req.headers.get("host") ?? "").replace(/:\d+$/, "");
    if (req.method !== "GET" || !m || m[1] !== publisher) {
      return new Response("not an AMP cache URL\n", { status: 404 });
    }
    if (!host.startsWith(`${domainPrefix(publisher)}.`)) {
      return new Response(`wrong cache subdomain ${host}\n`, { status: 404 });
    }
    const upstream = await fetch(new URL(m[2]!, broker));
    served++;
    console.log(`served ${served}: ${upstream.status} for /c/…/${m[2]!.slice(0, 20)}…`);
    return new Response(await upstream.arrayBuffer(), {
      status: upstream.status,
      headers: { "content-type": upstream.headers.get("content-type") ?? "text/html" },
    });
  },
);
