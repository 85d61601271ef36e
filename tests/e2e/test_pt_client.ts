/**
 * A test-only client pluggable transport (ClientTransportPlugin) that reaches our server
 * with Turbo Tunnel straight over WebSocket: no WebRTC, no broker, no proxy.
 *
 * It speaks PT v1 to tor (CMETHOD snowflake socks5 127.0.0.1:PORT) and carries each SOCKS
 * connection from tor as one smux stream of its own session, like the Go client:
 * WebSocket dial → RedialPacketConn (runCarrier: token + ClientID, packets) → KcpSession
 * (SNOWFLAKE_KCP) → SmuxSession client (SNOWFLAKE_SMUX_CLIENT).
 *
 * Usage (torrc): ClientTransportPlugin snowflake exec deno run -A test_pt_client.ts
 *   --url ws://IP:PORT/ [--log FILE]
 * A `url=` bridge-line argument overrides --url.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileSink, Logger, writeStderr } from "../../lib/log/mod.ts";
import { dialKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { type Conn, dialWebSocket, NamedAddr } from "../../lib/net/mod.ts";
import { clientSetup, wantsMethod } from "../../lib/pt/client_env.ts";
import { acceptSocks, SOCKS5_REPLY } from "../../lib/pt/socks.ts";
import { PtStdout } from "../../lib/pt/stdout.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { ClientID, RedialPacketConn } from "../../lib/turbotunnel/mod.ts";

const METHOD = "snowflake";

const { values } = parseArgs({
  args: Deno.args,
  options: { url: { type: "string" }, log: { type: "string" } },
});
const log = new Logger({ unsafe: true, write: values.log ? fileSink(values.log) : writeStderr });
const out = new PtStdout();

let info;
try {
  info = clientSetup(out);
} catch (e) {
  log.log(`setup: ${(e as Error).message}`);
  Deno.exit(1);
}
if (info.proxy) out.proxyError("this test PT does not support TOR_PT_PROXY");
for (const name of info.methodNames) {
  if (name !== METHOD && name !== "*") out.cmethodError(name, "no such method");
}
if (!wantsMethod(info, METHOD)) {
  out.cmethodsDone();
  Deno.exit(0);
}

/** One Turbo Tunnel session (fresh ClientID) carrying one smux stream for one SOCKS conn. */
async function openSession(url: string): Promise<{ smux: SmuxSession; stream: Conn }> {
  const id = ClientID.random();
  const remote = new NamedAddr("websocket", url);
  const pconn = new RedialPacketConn(
    id,
    remote,
    (signal) => dialWebSocket(url, { signal }),
    { onError: (e) => log.log(`session ${id.hex}: ${(e as Error).message}`) },
  );
  const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
  const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  log.log(`session ${id.hex} to ${url}`);
  return { smux, stream: await smux.openStream() };
}

async function handle(tcp: Deno.TcpConn): Promise<void> {
  let smux: SmuxSession | null = null;
  try {
    const socks = await acceptSocks(tcp);
    const url = socks.request.args.get("url")?.[0] ?? values.url;
    if (!url) {
      await socks.reject(SOCKS5_REPLY.generalFailure);
      throw new TypeError("no --url and no url= bridge argument");
    }
    let stream: Conn;
    try {
      ({ smux, stream } = await openSession(url));
    } catch (e) {
      await socks.reject(SOCKS5_REPLY.generalFailure);
      throw e;
    }
    await socks.grant();
    // Either direction ending ends the relay: tor closes both ways anyway.
    await Promise.race([
      socks.readable.pipeTo(stream.writable),
      stream.readable.pipeTo(socks.writable),
    ]);
    log.log("SOCKS connection done");
  } catch (e) {
    log.log(`SOCKS connection: ${(e as Error).message}`);
  } finally {
    smux?.close();
    try {
      tcp.close();
    } catch { /* closed by a pipe */ }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const addr = listener.addr as Deno.NetAddr;
out.cmethod(METHOD, "socks5", `127.0.0.1:${addr.port}`);
out.cmethodsDone();

const stop = (why: string) => {
  log.log(`exiting: ${why}`);
  Deno.exit(0);
};
for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => stop(sig));
if (info.exitOnStdinClose) {
  (async () => {
    try {
      for await (const _ of Deno.stdin.readable) { /* discard */ }
    } catch { /* EOF */ }
    stop("stdin closed");
  })();
}
for await (const tcp of listener) handle(tcp);
