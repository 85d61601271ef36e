/**
 * The client's SOCKS front end, shared by both modes:
 * - PT mode: tor connects with SOCKS5 and passes the bridge line's arguments as credentials;
 *   they override the flags for this connection. The request's target (the bridge's
 *   placeholder address) is ignored: the session goes wherever the broker sends it.
 * - standalone mode: any application connects with SOCKS4, 4a or 5; the target is replayed
 *   as a SOCKS5 CONNECT to the bridge side's SOCKS server (client/socks_upstream.ts).
 * Each connection gets its own Snowflake session and one smux stream, as in Go. In standalone
 * mode the first connection's session is opened at startup, so its proxy is already connected
 * when the first application connects (docs/client.md "Latency: SOCKS connect to first
 * byte"); PT mode opens nothing before tor connects, as Go, since the bridge line's arguments
 * come with the connection. Malformed requests get the protocol's error reply (lib/pt/socks.ts)
 * and one log line.
 *
 * @module
 */
import { acceptSocks, SOCKS5_REPLY, SocksError } from "../lib/pt/socks.ts";
import { applyBridgeArgs, type ClientConfig } from "../lib/snowflake/client_config.ts";
import { openSession, type Session } from "./session.ts";
import { peerDialer, type TransportEnv } from "./transport.ts";
import { grantOver, relay } from "./socks_upstream.ts";
import type { WebRTCPeer } from "./webrtc_peer.ts";

/** Options for {@link serveSocks}. */
export interface FrontOptions {
  mode: "pt" | "standalone";
  config: ClientConfig;
  env: TransportEnv;
  signal: AbortSignal;
}

let connections = 0;

/** A session opened before any connection asked for it, for the first one without arguments. */
interface Eager {
  take(): Promise<Session<WebRTCPeer>> | null;
}

/** Starts the standalone mode's first session now (flags' settings, no bridge arguments). */
function eagerSession(options: FrontOptions): Eager {
  const log = (m: string) => options.env.log(`first session: ${m}`);
  let pending: Promise<Session<WebRTCPeer>> | null = null;
  try {
    const dialPeer = peerDialer(options.config, { ...options.env, log });
    pending = openSession({ dialPeer, max: options.config.max, log });
    pending.catch(() => {});
  } catch (e) {
    log(`not opened ahead: ${(e as Error).message}`);
  }
  const closeUnused = () => pending?.then((s) => s.close(), () => {});
  options.signal.addEventListener("abort", closeUnused, { once: true });
  return {
    take() {
      const p = pending;
      pending = null;
      options.signal.removeEventListener("abort", closeUnused);
      return p;
    },
  };
}

/** Accepts SOCKS connections on `listener` until `signal` fires; resolves when all ended. */
export async function serveSocks(listener: Deno.Listener, options: FrontOptions): Promise<void> {
  const active = new Set<Promise<void>>();
  options.signal.addEventListener("abort", () => listener.close(), { once: true });
  const eager = options.mode === "standalone" ? eagerSession(options) : null;
  try {
    for await (const tcp of listener) {
      const p = handle(tcp, options, eager).finally(() => active.delete(p));
      active.add(p);
    }
  } catch (e) {
    if (!options.signal.aborted) throw e;
  }
  await Promise.allSettled(active);
}

async function handle(
  tcp: Deno.Conn,
  options: FrontOptions,
  eager: Eager | null,
): Promise<void> {
  const n = ++connections;
  const log = (m: string) => options.env.log(`SOCKS ${n}: ${m}`);
  let session: Session<WebRTCPeer> | null = null;
  const onAbort = () => session?.close();
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    let socks;
    try {
      socks = await acceptSocks(tcp, { signal: options.signal });
    } catch (e) {
      const what = e instanceof SocksError || e instanceof RangeError ? "malformed request" : "";
      log(`${what ? what + ": " : ""}${(e as Error).message}`);
      return;
    }
    let config: ClientConfig;
    try {
      config = applyBridgeArgs(options.config, socks.request.args);
      if (options.mode === "pt") {
        log(`bridge arguments: ${[...socks.request.args.keys()].join(", ") || "none"}`);
      }
    } catch (e) {
      log(`bad bridge arguments: ${(e as Error).message}`);
      await socks.reject(SOCKS5_REPLY.notAllowed).catch(() => {});
      return;
    }
    try {
      const ready = socks.request.args.size === 0 ? eager?.take() : null;
      if (ready) log("using the session opened at startup");
      session = await (ready ??
        openSession({
          dialPeer: peerDialer(config, { ...options.env, log }),
          max: config.max,
          log,
        }));
    } catch (e) {
      log(`cannot start a Snowflake session: ${(e as Error).message}`);
      await socks.reject(SOCKS5_REPLY.generalFailure).catch(() => {});
      return;
    }
    const stream = session.stream;
    if (!(await grantOver(socks, stream, options.mode, log))) return;
    log("connected");
    await relay(socks, stream, log);
    log("closed");
  } finally {
    options.signal.removeEventListener("abort", onAbort);
    session?.close();
    try {
      tcp.close();
    } catch { /* closed by a pipe */ }
  }
}
