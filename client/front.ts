/**
 * The client's SOCKS front end, shared by both modes:
 * - PT mode: tor connects with SOCKS5 and passes the bridge line's arguments as credentials;
 *   they override the flags for this connection. The request's target (the bridge's
 *   placeholder address) is ignored: the session goes wherever the broker sends it. Each
 *   connection gets its own Snowflake session and one smux stream, as in Go, and nothing is
 *   opened before tor connects, since the bridge line's arguments come with the connection.
 * - standalone mode: any application connects with SOCKS4, 4a or 5; the target is replayed
 *   as a SOCKS5 CONNECT to the bridge side's SOCKS server (client/socks_upstream.ts). Every
 *   connection with the same settings is one more smux stream on one shared session
 *   (client/shared_sessions.ts); the flags' session is started at startup, so its proxy is
 *   already connected when the first application connects (docs/client.md "Standalone mode:
 *   one session, many streams").
 * Malformed requests get the protocol's error reply (lib/pt/socks.ts) and one log line.
 *
 * @module
 */
import type { Conn } from "../lib/net/mod.ts";
import { acceptSocks, SOCKS5_REPLY, SocksError } from "../lib/pt/socks.ts";
import { applyBridgeArgs, type ClientConfig } from "../lib/snowflake/client_config.ts";
import { type Session, startSession } from "./session.ts";
import { SharedSessions } from "./shared_sessions.ts";
import { peerDialer, type TransportEnv } from "./transport.ts";
import { grantOver, relay } from "./socks_upstream.ts";
import type { WebRTCPeer } from "./webrtc_peer.ts";

/** Options for {@link serveSocks}. */
export interface FrontOptions {
  mode: "pt" | "standalone";
  config: ClientConfig;
  env: TransportEnv;
  signal: AbortSignal;
  /** Standalone: the shared sessions (default: {@link sharedSessions} of these options). */
  sessions?: SharedSessions<Session<WebRTCPeer>>;
}

let connections = 0;

/** The standalone mode's shared sessions; all closed when `options.signal` fires. */
export function sharedSessions(options: FrontOptions): SharedSessions<Session<WebRTCPeer>> {
  const { env } = options;
  return new SharedSessions({
    start: (config) =>
      startSession({ dialPeer: peerDialer(config, env), max: config.max, log: env.log }),
    signal: options.signal,
    log: env.log,
  });
}

/** Accepts SOCKS connections on `listener` until `signal` fires; resolves when all ended. */
export async function serveSocks(listener: Deno.Listener, options: FrontOptions): Promise<void> {
  const active = new Set<Promise<void>>();
  options.signal.addEventListener("abort", () => listener.close(), { once: true });
  const shared = options.mode === "standalone" ? options.sessions ?? sharedSessions(options) : null;
  shared?.prepare(options.config);
  try {
    for await (const tcp of listener) {
      const p = handle(tcp, options, shared).finally(() => active.delete(p));
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
  shared: SharedSessions<Session<WebRTCPeer>> | null,
): Promise<void> {
  const n = ++connections;
  const log = (m: string) => options.env.log(`SOCKS ${n}: ${m}`);
  // Closes this connection's stream (standalone) or its own session (PT mode).
  let release = () => {};
  const onAbort = () => release();
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
      if (options.mode === "pt" || socks.request.args.size > 0) {
        log(`bridge arguments: ${[...socks.request.args.keys()].join(", ") || "none"}`);
      }
    } catch (e) {
      log(`bad bridge arguments: ${(e as Error).message}`);
      await socks.reject(SOCKS5_REPLY.notAllowed).catch(() => {});
      return;
    }
    let stream: Conn;
    try {
      if (shared) {
        const opened = await shared.open(config);
        release = opened.release;
        stream = opened.stream;
        log(`stream on ${opened.session.name}`);
      } else {
        options.signal.throwIfAborted();
        const env = { ...options.env, log };
        const session = startSession({ dialPeer: peerDialer(config, env), max: config.max, log });
        release = () => session.close();
        stream = await session.openStream();
      }
    } catch (e) {
      log(`cannot start a Snowflake session: ${(e as Error).message}`);
      await socks.reject(SOCKS5_REPLY.generalFailure).catch(() => {});
      return;
    }
    const app = await grantOver(socks, stream, options.mode, log);
    if (!app) return;
    log("connected");
    await relay(app, stream, log);
    log("closed");
  } finally {
    options.signal.removeEventListener("abort", onAbort);
    release();
    try {
      tcp.close();
    } catch { /* closed by a pipe */ }
  }
}
