/**
 * The e2e harness's HTTP origin: serves the files of one directory (GET only).
 *
 * Usage: deno run --allow-net --allow-read tests/e2e/origin.ts DIR HOST PORT
 *
 * @module
 */
const [dir, hostname, port] = Deno.args;
if (!dir || !hostname || !port) throw new TypeError("usage: origin.ts DIR HOST PORT");

Deno.serve({ hostname, port: Number(port) }, async (req) => {
  const name = new URL(req.url).pathname.slice(1);
  if (req.method !== "GET" || !/^[\w.-]+$/.test(name)) return new Response(null, { status: 404 });
  try {
    const file = await Deno.open(`${dir}/${name}`);
    const { size } = await file.stat();
    return new Response(file.readable, { headers: { "content-length": String(size) } });
  } catch {
    return new Response(null, { status: 404 });
  }
});
