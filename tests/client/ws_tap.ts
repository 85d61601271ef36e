/**
 * A TCP tap between the proxies and the server, for `churn:wire` and the multipath bench:
 * listens on HOST:PORT, forwards every connection to TARGET_HOST:TARGET_PORT, and writes what
 * the proxy sent (the WebSocket upgrade and frames, unaltered) to
 * OUT_DIR/tap-<n>-<proxy port>.bin. With RATE (bytes/s), what the server sends is paced to
 * that rate per connection: a cap on each proxy's relay.
 *
 * Usage: deno run --allow-net --allow-write ws_tap.ts HOST PORT TARGET_HOST TARGET_PORT OUT_DIR
 *        [RATE]
 *
 * @module
 */
const [host, port, targetHost, targetPort, outDir, rateArg] = Deno.args;
const rate = Number(rateArg ?? 0);
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
    const downstream = rate > 0 ? server.readable.pipeThrough(paced()) : server.readable;
    await Promise.allSettled([upstream, downstream.pipeTo(conn.writable)]);
    file.close();
  }, () => conn.close());
}

/** Delays chunks so that they leave at `rate` bytes/s at most (a 50 ms burst allowed). */
function paced(): TransformStream<Uint8Array, Uint8Array> {
  let next = performance.now();
  return new TransformStream({
    async transform(chunk, ctl) {
      next = Math.max(next, performance.now() - 50) + (chunk.length * 1000) / rate;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      ctl.enqueue(chunk);
    },
  });
}
