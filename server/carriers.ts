/**
 * The server's ingress: every proxy connection, whatever carries it (a WebSocket's light
 * {@link ChunkLink}, or the in-memory Conn twin in tests), is a byte stream served by the one carrier
 * pump of lib/turbotunnel ({@link serveCarrier}): the token and ClientID first, then
 * encapsulated packets both ways (docs/PROTOCOL.md §1, §2). This file adds what the server needs
 * around it: routing to the client's KCP instance, the handshake and idle deadlines,
 * counters, and a log line per connection.
 *
 * @module
 */
import type { ChunkLink, Conn } from "../lib/net/mod.ts";
import { WsListener } from "../lib/net/ws_listener.ts";
import type { Logger } from "../lib/log/mod.ts";
import {
  type CarrierEndpoint,
  type CarrierStats,
  carrierStats,
  type ClientID,
  serveCarrier,
} from "../lib/turbotunnel/mod.ts";
import { ChurnGc } from "./churn_gc.ts";
import { clientIpFromUrl } from "./client_ips.ts";
import type { Metrics } from "./metrics.ts";

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

export interface CarriersContext {
  /**
   * The endpoint of a new carrier of `id` whose proxy gave `clientIp`: in the KCP instance
   * that owns `id` (num-turbotunnel routing), here or in another Worker.
   */
  route(id: ClientID, clientIp: string | null): CarrierEndpoint;
  metrics: Metrics;
  log: Pick<Logger, "log" | "unsafe">;
  limits?: Partial<CarrierLimits>;
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
  async serve(conn: Conn | ChunkLink, info: ConnInfo = {}): Promise<void> {
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
    const clientIp = info.url === undefined ? null : clientIpFromUrl(info.url);
    const from = info.remoteAddr ?? ("remoteAddr" in conn ? conn.remoteAddr.toString() : "?");
    const route = (id: ClientID) => {
      const endpoint = this.#ctx.route(id, clientIp);
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

  /**
   * Listens for WebSockets on `addr` (TLS when `tls` is given; `reusePort` lets several
   * Workers listen on one port) and serves every connection until the listener closes.
   */
  async listen(
    addr: { hostname: string; port: number },
    tls?: { cert: string; key: string },
    reusePort = false,
  ): Promise<WsListener> {
    const { counters } = this.#ctx.metrics;
    const listener = await WsListener.listen({
      hostname: addr.hostname,
      port: addr.port,
      tls,
      reusePort,
      maxPayload: this.#limits.maxMessage,
      // A carrier pulls its next batch once the previous one reached the kernel: a slow proxy
      // holds little of its client's queue, which its other carriers take (docs/client.md).
      writeHighWaterMark: this.#limits.batchBytes,
      // And the kernel takes it only while less than one batch waits unsent there: a frozen
      // proxy (its kernel acknowledged until its window closed) stops its carrier after that
      // instead of after an autotuned send buffer of MBs, which took KCP's resends for seconds.
      notSentLowat: this.#limits.batchBytes,
      onRefused: (reason) => {
        if (reason === "oversize") counters.floodCloses++;
        if (reason === "text") counters.textMessages++;
      },
    });
    void (async () => {
      for await (const a of listener) {
        void this.serve(a.link, { url: a.url, remoteAddr: a.remoteAddr.toString() });
      }
    })();
    return listener;
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
