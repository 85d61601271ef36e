/**
 * A TCP tap between the proxies and the server, for `churn:wire`: listens on HOST:PORT,
 * forwards every connection to TARGET_HOST:TARGET_PORT, and writes what the proxy sent (the
 * WebSocket upgrade and frames, unaltered) to OUT_DIR/tap-<n>-<proxy port>.bin.
 *
 * Usage: deno run --allow-net --allow-write ws_tap.ts HOST PORT TARGET_HOST TARGET_PORT OUT_DIR
 *
 * @module
 */
const [host, port, targetHost, targetPort, outDir] = Deno.args;
if (!outDir) throw new TypeError("usage: ws_tap.ts HOST PORT TARGET_HOST TARGET_PORT OUT_DIR");

const listener = Deno.listen({ hostname: host, port: Number(port) });
let n = 0;
for await (const conn of listener) {
  const from = (conn.remoteAddr as Deno.NetAddr).port;
  const file = await Deno.open(`${outDir}/tap-${n++}-${from}.bin`, { write: true, create: true });
  Deno.connect({ hostname: targetHost, port: Number(targetPort) }).then(async (server) => {
    const upstream = conn.readable.pipeThrough(
      new TransformStream({
        transform(chunk, ctl) {
          file.writeSync(chunk);
          ctl.enqueue(chunk);
        },
      }),
    ).pipeTo(server.writable);
    await Promise.allSettled([upstream, server.readable.pipeTo(conn.writable)]);
    file.close();
  }, () => conn.close());
}
