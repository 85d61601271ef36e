/**
 * The `--no-tor` demo's stand-in for tor at the bridge: a SOCKS5 server where the ORPort
 * would be. Our client in standalone SOCKS mode replays each SOCKS request through the tunnel
 * as a SOCKS5 CONNECT to the server's ORPort (README "Client"), so this answers it by
 * connecting to the named target and relaying both ways. With RATE (bytes/s), the replies
 * are paced, so that the demo's download lasts long enough to kill a proxy in the middle of
 * it (curl's own --limit-rate reads in bursts).
 *
 * Usage: deno run --allow-net tools/demo_socks.ts HOST PORT [RATE]
 *
 * @module
 */
import { acceptSocks, SOCKS5_REPLY } from "../lib/pt/socks.ts";
import { sleep } from "../lib/net/sleep.ts";

const [hostname, port, rateArg] = Deno.args;
if (!hostname || !port) throw new TypeError("usage: demo_socks.ts HOST PORT [RATE]");
const rate = Number(rateArg ?? 0);

/** Passes chunks on no faster than `rate` bytes/s on average (0: unpaced). */
function paced(): TransformStream<Uint8Array, Uint8Array> {
  const t0 = performance.now();
  let sent = 0;
  return new TransformStream({
    async transform(chunk, controller) {
      if (rate > 0) await sleep(sent / rate * 1000 - (performance.now() - t0));
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  const socks = await acceptSocks(conn);
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect({
      hostname: socks.request.target.host,
      port: socks.request.target.port,
    });
  } catch {
    await socks.reject(SOCKS5_REPLY.connectionRefused);
    return;
  }
  await socks.grant();
  await Promise.all([
    socks.readable.pipeTo(upstream.writable),
    upstream.readable.pipeThrough(paced()).pipeTo(socks.writable),
  ]).catch(() => {});
}

for await (const conn of Deno.listen({ hostname, port: Number(port) })) {
  serve(conn).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  });
}
