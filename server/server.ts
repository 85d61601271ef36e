/**
 * The Snowflake server without the PT glue: HTTP(S) listeners that upgrade to WebSocket,
 * the carriers (any byte-stream Conn: {@link SnowflakeServer.serveConn}), N Turbo Tunnel
 * instances (num-turbotunnel) and the routing between them (docs/ARCHITECTURE.md).
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import type { KcpOptions } from "../lib/kcp/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import type { Conn, Listener } from "../lib/net/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import type { SmuxConfig } from "../lib/smux/mod.ts";
import type { ClientID } from "../lib/turbotunnel/mod.ts";
import { ClientIPs } from "./client_ips.ts";
import { Metrics } from "./metrics.ts";
import { TurbotunnelInstance } from "./turbotunnel.ts";
import { type CarrierLimits, Carriers, type ConnInfo, type TunnelPort } from "./carriers.ts";
import { WsListener } from "../lib/net/ws_listener.ts";
import { WorkerTunnel } from "./worker_tunnel.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";

export interface ServerOptions {
  target: OrTarget;
  log: Logger;
  /** Number of KCP instances; a ClientID's instance is HMAC-SHA256(key, id) LE u64 mod N. */
  numTurbotunnel?: number;
  /** orport-srcaddr: an IP or CIDR to pick each ORPort connection's source address from. */
  srcaddr?: string | null;
  /**
   * Run each KCP instance in its own Worker (one core each). Default: when
   * numTurbotunnel > 1.
   */
  workers?: boolean;
  unsafeLogging?: boolean;
  metrics?: Metrics;
  limits?: Partial<CarrierLimits>;
  kcp?: KcpOptions;
  smux?: Partial<SmuxConfig>;
}

export class SnowflakeServer {
  readonly metrics: Metrics;
  readonly clientIps = new ClientIPs();
  #instances: TurbotunnelInstance[] = [];
  #workers: WorkerTunnel[] = [];
  #ports: TunnelPort[];
  #carriers: Carriers;
  #hmacKey = crypto.getRandomValues(new Uint8Array(32));
  #listeners: WsListener[] = [];

  constructor(opts: ServerOptions) {
    const n = opts.numTurbotunnel ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`num-turbotunnel ${n} must be ≥ 1`);
    this.metrics = opts.metrics ?? new Metrics();
    if (opts.workers ?? n > 1) {
      this.#workers = Array.from({ length: n }, (_, index) =>
        new WorkerTunnel({
          target: opts.target,
          srcaddr: opts.srcaddr ?? null,
          index,
          log: opts.log,
          kcp: opts.kcp,
          smux: opts.smux,
        }));
      this.#ports = this.#workers;
    } else {
      const connect = opts.srcaddr ? srcAddrConnect(parseIPCIDR(opts.srcaddr)) : denoConnect;
      this.#instances = Array.from({ length: n }, (_, index) =>
        new TurbotunnelInstance({
          target: opts.target,
          clientIps: this.clientIps,
          metrics: this.metrics,
          log: opts.log,
          connect,
          kcp: opts.kcp,
          smux: opts.smux,
          index,
        }));
      this.#ports = this.#instances;
    }
    this.#carriers = new Carriers({
      route: (id) => this.#ports[this.instanceIndex(id)]!,
      onClientIp: (id, ip) => this.#workers[this.instanceIndex(id)]?.noteClientIp(id.hex, ip),
      clientIps: this.clientIps,
      metrics: this.metrics,
      log: opts.log,
      limits: opts.limits,
    });
  }

  /** Which instance serves `id` (docs/PROTOCOL.md §5). */
  instanceIndex(id: ClientID): number {
    if (this.#ports.length === 1) return 0;
    const mac = createHmac("sha256", Buffer.from(this.#hmacKey)).update(id.bytes).digest();
    return Number(mac.readBigUInt64LE(0) % BigInt(this.#ports.length));
  }

  /**
   * Serves one carrier: any byte-stream Conn that starts with the Turbo Tunnel token and
   * ClientID (a WebSocket's messages, a memory twin). Resolves when it ends; closes it.
   */
  serveConn(conn: Conn, info: ConnInfo = {}): Promise<void> {
    return this.#carriers.serve(conn, info);
  }

  /** Serves every Conn `listener` accepts until it closes (`info` tells about each). */
  async serve(listener: Listener, info: (conn: Conn) => ConnInfo = () => ({})): Promise<void> {
    for await (const conn of listener) void this.serveConn(conn, info(conn));
  }

  /**
   * Listens on `addr` (WebSocket, with TLS when `tls` is given; anything else gets 400 like
   * the Go server). Resolves with the bound address.
   */
  async listen(
    addr: { hostname: string; port: number },
    tls?: { cert: string; key: string },
  ): Promise<Deno.NetAddr> {
    const listener = await WsListener.listen({
      hostname: addr.hostname,
      port: addr.port,
      tls,
      maxPayload: this.#carriers.limits.maxMessage,
      // A carrier pulls its next batch once the previous one reached the kernel: a slow proxy
      // holds little of its client's queue, which its other carriers take (docs/client.md).
      writeHighWaterMark: this.#carriers.limits.batchBytes,
      onRefused: (reason) => {
        if (reason === "oversize") this.metrics.counters.floodCloses++;
        if (reason === "text") this.metrics.counters.textMessages++;
      },
    });
    this.#listeners.push(listener);
    void (async () => {
      for await (const a of listener) {
        void this.#carriers.serve(a.link, { url: a.url, remoteAddr: a.remoteAddr.toString() });
      }
    })();
    return { transport: "tcp", hostname: listener.addr.hostname, port: listener.addr.port };
  }

  /** Serves new TLS connections with a renewed certificate (no restart). */
  reloadTls(cert: string, key: string): void {
    for (const l of this.#listeners) l.reloadTls(cert, key);
  }

  /** Live KCP sessions over all instances. */
  get numSessions(): number {
    return this.#instances.reduce((n, i) => n + i.numSessions, 0) +
      this.#workers.reduce((n, w) => n + (w.gauges.sessionsActive ?? 0), 0);
  }

  /** Current metrics, with the queue drop counters and the workers' counters folded in. */
  renderMetrics(): string {
    this.#carriers.foldLive();
    const m = new Metrics();
    Object.assign(m.counters, this.metrics.counters);
    Object.assign(m.gauges, this.metrics.gauges);
    m.counters.outgoingDrops = this.#instances.reduce((n, i) => n + i.outgoingDrops, 0) +
      this.#workers.reduce((n, w) => n + w.outgoingDrops, 0);
    m.counters.incomingDrops += this.#workers.reduce((n, w) => n + w.incomingDrops, 0);
    m.gauges.queuedBytes = this.#instances.reduce((n, i) => n + i.pconn.queues.bytes, 0) +
      this.#workers.reduce((n, w) => n + w.queues.bytes, 0);
    for (const w of this.#workers) {
      for (const k of ["sessions", "streams", "orportErrors"] as const) {
        m.counters[k] += w.counters[k] ?? 0;
      }
      m.gauges.sessionsActive += w.gauges.sessionsActive ?? 0;
      m.gauges.streamsActive += w.gauges.streamsActive ?? 0;
    }
    return m.render();
  }

  async close(): Promise<void> {
    this.#carriers.close();
    for (const i of this.#instances) i.close();
    for (const w of this.#workers) w.close();
    this.clientIps.close();
    await Promise.allSettled(this.#listeners.map((l) => l.close()));
  }
}
