/**
 * The client half of the sctp transport (README: sctp transport): takes SOCKS connections
 * and carries each one as one SCTP stream of the one association to the server.
 *
 * - PT mode: tor names the bridge as the SOCKS target (`Bridge sctp IP:PORT`); that is
 *   the server's UDP encapsulation port (and SCTP port, unless `sctp-port=N` is a bridge
 *   argument; `max-message=N` caps each SCTP message, for peers such as usrsctp's
 *   echo_server that handle at most 10,240 bytes at a time).
 * - standalone mode: the server is `server`; each request's target is replayed as a
 *   SOCKS5 CONNECT to the SOCKS server at the far end (client/socks_upstream.ts), as the
 *   snowflake transport does.
 *
 * @module
 */
import { acceptSocks, SOCKS5_REPLY, SocksError, type SocksRequest } from "../../lib/pt/socks.ts";
import type { Conn } from "../../lib/net/types.ts";
import { SctpDialer } from "../../lib/sctp/mod.ts";
import { grantOver, relay } from "../socks_upstream.ts";

/** Options for {@link runSctpClient}. */
export interface SctpClientOptions {
  mode: "pt" | "standalone";
  /** The server (IP and UDP port); required in standalone mode, else the SOCKS target. */
  server?: { hostname: string; port: number };
  /** Our UDP encapsulation port (default: a free one). */
  localUdpPort?: number;
  log: (message: string) => void;
  signal: AbortSignal;
}

let connections = 0;

/** Serves SOCKS on `listener` until `signal` fires; resolves when every relay has ended. */
export async function runSctpClient(
  listener: Deno.Listener,
  options: SctpClientOptions,
): Promise<void> {
  const dialers = new Map<string, SctpDialer>();
  const active = new Set<Promise<void>>();
  const stop = () => {
    listener.close();
    for (const d of dialers.values()) d.close();
  };
  options.signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const tcp of listener) {
      const p = handle(tcp, options, dialers).finally(() => active.delete(p));
      active.add(p);
    }
  } catch (e) {
    if (!options.signal.aborted) throw e;
  }
  await Promise.allSettled(active);
}

/** The server a request goes to, and its SCTP port. */
function serverFor(
  request: SocksRequest,
  options: SctpClientOptions,
): { hostname: string; port: number; sctpPort?: number; maxMessage?: number } {
  const sctpPort = request.args.get("sctp-port")?.at(-1);
  const maxMessage = request.args.get("max-message")?.at(-1);
  const extra = {
    ...(sctpPort ? { sctpPort: parsePort(sctpPort) } : {}),
    ...(maxMessage ? { maxMessage: parsePort(maxMessage) } : {}),
  };
  if (options.mode === "standalone") {
    if (!options.server) throw new TypeError("standalone mode needs the server's address");
    return { ...options.server, ...extra };
  }
  if (request.target.kind === "domain") {
    throw new TypeError("the bridge address must be an IP address");
  }
  return { hostname: request.target.host, port: request.target.port, ...extra };
}

/** A number in 1..65535: a port, or a message size. */
function parsePort(s: string): number {
  const n = Number(s);
  if (!/^\d{1,5}$/.test(s) || n < 1 || n > 65535) throw new RangeError(`${s} is not in 1..65535`);
  return n;
}

async function handle(
  tcp: Deno.Conn,
  options: SctpClientOptions,
  dialers: Map<string, SctpDialer>,
): Promise<void> {
  const n = ++connections;
  const log = (m: string) => options.log(`sctp SOCKS ${n}: ${m}`);
  let stream: Conn | null = null;
  try {
    let socks;
    try {
      socks = await acceptSocks(tcp, { signal: options.signal });
    } catch (e) {
      const what = e instanceof SocksError || e instanceof RangeError ? "malformed request: " : "";
      log(`${what}${(e as Error).message}`);
      return;
    }
    let server;
    try {
      server = serverFor(socks.request, options);
    } catch (e) {
      log((e as Error).message);
      await socks.reject(SOCKS5_REPLY.notAllowed).catch(() => {});
      return;
    }
    const key = `${server.hostname}|${server.port}|${server.sctpPort ?? ""}|${
      server.maxMessage ?? ""
    }`;
    let dialer = dialers.get(key);
    if (!dialer) {
      dialer = new SctpDialer({
        ...server,
        localUdpPort: options.localUdpPort,
        onEvent: (event, detail) => options.log(`sctp association ${event}: ${detail}`),
      });
      dialers.set(key, dialer);
    }
    try {
      stream = await dialer.dial(options.signal);
    } catch (e) {
      log(`no SCTP stream: ${(e as Error).message}`);
      await socks.reject(SOCKS5_REPLY.generalFailure).catch(() => {});
      return;
    }
    const app = await grantOver(socks, stream, options.mode, log);
    if (!app) return;
    await relay(app, stream, log);
  } finally {
    stream?.close();
    try {
      tcp.close();
    } catch { /* closed by a pipe */ }
  }
}
