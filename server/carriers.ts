/**
 * The server's ingress: every proxy connection, whatever carries it (a WebSocket, or the
 * in-memory Conn twin in tests), is a byte-stream {@link Conn} served by the one carrier
 * pump of lib/turbotunnel ({@link serveCarrier}): the token and ClientID first, then
 * encapsulated packets both ways (docs/PROTOCOL.md §1, §2). This file adds what the server needs
 * around it: routing to the client's KCP instance, the handshake and idle deadlines,
 * counters, and a log line per connection.
 *
 * @module
 */
import type { Conn } from "../lib/net/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import {
  type CarrierEndpoint,
  type CarrierStats,
  carrierStats,
  type ClientID,
  serveCarrier,
} from "../lib/turbotunnel/mod.ts";
import { ChurnGc } from "./churn_gc.ts";
import type { ClientIPs } from "./client_ips.ts";
import type { Metrics } from "./metrics.ts";
import { isIP } from "../lib/pt/server_env.ts";

/** Limits on one connection; every default has its reason. */
export interface CarrierLimits {
  /** Close if the token and ClientID have not arrived by then (half-open). Default 30 s. */
  handshakeTimeoutMs: number;
  /** Close after this long without a byte; clients send smux keepalives every 10 s. Default 120 s. */
  idleTimeoutMs: number;
  /** Largest packet accepted; KCP packets are ≤ 1400 bytes (MTU). Default 65535. */
  maxPacket: number;
  /** Largest WebSocket message accepted; proxies relay data-channel messages (≤ 64 KiB). Default 1 MiB. */
  maxMessage: number;
  /** Packets are batched into messages of up to this size. Default 64 KiB. */
  batchBytes: number;
}

export const DEFAULT_CARRIER_LIMITS: Readonly<CarrierLimits> = Object.freeze({
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  maxPacket: 65535,
  maxMessage: 1024 * 1024,
  batchBytes: 64 * 1024,
});

/** What the server knows about a connection besides its bytes. */
export interface ConnInfo {
  /** The HTTP request URL; its `client_ip` parameter is the client's address (from the proxy). */
  url?: string | URL;
  /** The proxy's address, for logs (scrubbed). */
  remoteAddr?: string;
}

/**
 * The KCP side of one instance as the carriers see it: an in-thread instance, or the
 * main-thread end of a KCP Worker.
 */
export interface TunnelPort {
  /** A carrier of `id` starts: its packets go to KCP and it drains `id`'s send queue. */
  endpoint(id: ClientID): CarrierEndpoint;
}

export interface CarriersContext {
  /** The tunnel that serves this ClientID (num-turbotunnel routing). */
  route(id: ClientID): TunnelPort;
  /** Called when a connection's ClientID and the proxy's client_ip are known. */
  onClientIp?(id: ClientID, ip: string): void;
  clientIps: ClientIPs;
  metrics: Metrics;
  log: Logger;
  limits?: Partial<CarrierLimits>;
}

/** The `client_ip` a proxy reported in the request URL, if it is an IP address. */
export function clientIpOf(url: string | URL | undefined): string | null {
  if (url === undefined) return null;
  let ip: string | null;
  try {
    ip = new URL(url).searchParams.get("client_ip");
  } catch {
    return null;
  }
  return ip && isIP(ip) ? ip : null;
}

interface Live {
  stats: CarrierStats;
  started: number;
  abort: AbortController;
  /** Stats already folded into the metrics. */
  folded: { bytesIn: number; bytesOut: number; packetsOut: number };
}

/** All live carriers of the server, with the handshake and idle deadlines. */
export class Carriers {
  #ctx: CarriersContext;
  #limits: CarrierLimits;
  #live = new Set<Live>();
  #gc = new ChurnGc();
  #timer: ReturnType<typeof setInterval>;

  constructor(ctx: CarriersContext) {
    this.#ctx = ctx;
    this.#limits = { ...DEFAULT_CARRIER_LIMITS, ...ctx.limits };
    const period = Math.max(
      100,
      Math.min(this.#limits.handshakeTimeoutMs, this.#limits.idleTimeoutMs) / 4,
    );
    this.#timer = setInterval(() => this.#sweep(), period);
    Deno.unrefTimer(Number(this.#timer));
  }

  get limits(): Readonly<CarrierLimits> {
    return this.#limits;
  }

  get size(): number {
    return this.#live.size;
  }

  /** Serves one connection until it ends; never rejects. Closes `conn`. */
  async serve(conn: Conn, info: ConnInfo = {}): Promise<void> {
    const { metrics, log } = this.#ctx;
    metrics.counters.connections++;
    metrics.gauges.connectionsActive++;
    const started = Date.now();
    const live: Live = {
      stats: carrierStats(started),
      started,
      abort: new AbortController(),
      folded: { bytesIn: 0, bytesOut: 0, packetsOut: 0 },
    };
    this.#live.add(live);
    const clientIp = clientIpOf(info.url);
    const from = info.remoteAddr ?? conn.remoteAddr.toString();
    const route = (id: ClientID) => {
      if (clientIp) {
        this.#ctx.clientIps.set(id.hex, clientIp);
        this.#ctx.onClientIp?.(id, clientIp);
      }
      const endpoint = this.#ctx.route(id).endpoint(id);
      const c = metrics.counters;
      return {
        queue: endpoint.queue,
        release: () => endpoint.release(),
        deliver: (data: Uint8Array) => {
          c.packetsFromClients++;
          if (endpoint.deliver(data)) return true;
          c.incomingDrops++;
          return false;
        },
      };
    };
    const end = await serveCarrier(conn, route, {
      maxLength: this.#limits.maxPacket,
      batchBytes: this.#limits.batchBytes,
      signal: live.abort.signal,
    }, live.stats);
    this.#live.delete(live);
    this.#fold(live);
    metrics.gauges.connectionsActive--;
    this.#gc.closed();
    let reason: string = end.reason;
    if (end.reason === "badToken") metrics.counters.badToken++;
    else if (end.reason === "badEncapsulation") metrics.counters.badEncapsulation++;
    else if (end.reason === "oversize") metrics.counters.oversizePackets++;
    else if (end.reason === "aborted") reason = String((end.error as Error)?.message ?? end.error);
    const s = live.stats;
    const client = s.clientId === null
      ? "no ClientID"
      : `${log.unsafe ? `client ${s.clientId.hex}` : "a client"}${
        clientIp ? ` at ${clientIp}` : ""
      }`;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    log.log(
      `connection from ${from} closed (${reason}): ${client}, ` +
        `${s.bytesIn} B in, ${s.bytesOut} B out, ${secs} s`,
    );
  }

  /** Adds a connection's byte counts to the metrics (packets in are counted as they come). */
  #fold(l: Live): void {
    const c = this.#ctx.metrics.counters;
    const s = l.stats;
    c.bytesFromClients += s.bytesIn - l.folded.bytesIn;
    c.bytesToClients += s.bytesOut - l.folded.bytesOut;
    c.packetsToClients += s.packetsOut - l.folded.packetsOut;
    l.folded = { bytesIn: s.bytesIn, bytesOut: s.bytesOut, packetsOut: s.packetsOut };
  }

  /** Folds the live connections' counts into the metrics (also done by the sweep). */
  foldLive(): void {
    for (const l of this.#live) this.#fold(l);
  }

  #sweep(): void {
    const now = Date.now();
    const { metrics } = this.#ctx;
    for (const l of this.#live) {
      this.#fold(l);
      if (l.stats.clientId === null && now - l.started > this.#limits.handshakeTimeoutMs) {
        metrics.counters.handshakeTimeouts++;
        l.abort.abort(new Error("handshake timeout"));
      } else if (now - l.stats.lastRead > this.#limits.idleTimeoutMs) {
        metrics.counters.idleTimeouts++;
        l.abort.abort(new Error("idle timeout"));
      }
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const l of this.#live) l.abort.abort(new Error("server closing"));
  }
}
