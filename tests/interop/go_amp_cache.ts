/**
 * A stand-in AMP cache for tests/interop/go_amp_test.ts: answers
 * `GET /c/<publisher host>/<path>` with what our broker serves at `<broker URL><path>`
 * (status, content type and body), as a real AMP cache fetching the publisher would, and logs
 * each request line.
 *
 * Usage: go_amp_cache.ts <hostname> <port> <broker URL>
 *
 * @module
 */
const [hostname, port, broker] = Deno.args;
Deno.serve({
  hostname,
  port: Number(port),
  onListen: () => console.log(`AMP cache on ${hostname}:${port}`),
}, async (req) => {
  const url = new URL(req.url);
  console.log(`${req.method} ${url.host}${url.pathname}`);
  const m = /^\/c\/(?:s\/)?[^/]+\/(.*)$/.exec(url.pathname);
  if (req.method !== "GET" || !m) {
    return new Response("not an AMP document path\n", { status: 404 });
  }
  const res = await fetch(broker! + m[1]! + url.search);
  return new Response(await res.arrayBuffer(), {
    status: res.status,
    headers: { "content-type": res.headers.get("content-type") ?? "text/html" },
  });
});
