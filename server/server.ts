/**
 * The Snowflake server without the PT glue: HTTP(S) listeners that upgrade to WebSocket,
 * the carriers (any byte-stream Conn: {@link SnowflakeServer.serveConn}), N Turbo Tunnel
 * instances (num-turbotunnel) and the routing between them (docs/ARCHITECTURE.md). With
 * Workers, each Worker listens and serves its share of the carriers; this thread only
 * configures and supervises them and adds up their metrics.
 *
 * @module
 */
import type { KcpOptions } from "../lib/kcp/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import type { Conn, Listener } from "../lib/net/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import type { SmuxConfig } from "../lib/smux/mod.ts";
import { ClientIPs } from "./client_ips.ts";
import { Metrics } from "./metrics.ts";
import { TurbotunnelInstance } from "./turbotunnel.ts";
import { type CarrierLimits, Carriers, type ConnInfo, DEFAULT_CARRIER_LIMITS } from "./carriers.ts";
import { WsListener } from "../lib/net/ws_listener.ts";
import { instanceIndex, ownerTableMemory } from "./route.ts";
import { WorkerTunnel } from "./worker_tunnel.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";

export interface ServerOptions {
  target: OrTarget;
  log: Logger;
  /**
   * Number of KCP instances. A ClientID's instance is HMAC-SHA256(key, id) LE u64 mod N in
   * one thread; with Workers, the Worker its first carrier landed on (./route.ts).
   */
  numTurbotunnel?: number;
  /** orport-srcaddr: an IP or CIDR to pick each ORPort connection's source address from. */
  srcaddr?: string | null;
  /**
   * Run each KCP instance in its own Worker with its share of the WebSockets (one core
   * each). Default: when numTurbotunnel > 1.
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
  #clientIps = new ClientIPs();
  #instances: TurbotunnelInstance[] = [];
  #workers: WorkerTunnel[] = [];
  /** Carriers served in this thread (none with Workers: each serves its own). */
  #carriers: Carriers | null = null;
  #limits: CarrierLimits;
  #hmacKey = crypto.getRandomValues(new Uint8Array(32));
  #listeners: WsListener[] = [];

  constructor(opts: ServerOptions) {
    const n = opts.numTurbotunnel ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`num-turbotunnel ${n} must be ≥ 1`);
    this.metrics = opts.metrics ?? new Metrics();
    this.#limits = { ...DEFAULT_CARRIER_LIMITS, ...opts.limits };
    if (opts.workers ?? n > 1) {
      // One MessageChannel per pair of Workers, so they hand carriers over directly.
      const peers = Array.from({ length: n }, () => new Array<MessagePort | null>(n).fill(null));
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const c = new MessageChannel();
          peers[i]![j] = c.port1;
          peers[j]![i] = c.port2;
        }
      }
      const owners = ownerTableMemory();
      this.#workers = peers.map((ports, index) =>
        new WorkerTunnel({
          index,
          peers: ports,
          hmacKey: this.#hmacKey,
          owners,
          target: opts.target,
          srcaddr: opts.srcaddr ?? null,
          log: opts.log,
          limits: this.#limits,
          kcp: opts.kcp,
          smux: opts.smux,
        })
      );
      return;
    }
    const connect = opts.srcaddr ? srcAddrConnect(parseIPCIDR(opts.srcaddr)) : denoConnect;
    this.#instances = Array.from({ length: n }, (_, index) =>
      new TurbotunnelInstance({
        target: opts.target,
        clientIps: this.#clientIps,
        metrics: this.metrics,
        log: opts.log,
        connect,
        kcp: opts.kcp,
        smux: opts.smux,
        index,
      }));
    this.#carriers = new Carriers({
      route: (id, clientIp) => {
        if (clientIp) this.#clientIps.set(id.hex, clientIp);
        return this.#instances[instanceIndex(this.#hmacKey, id, n)]!.endpoint(id);
      },
      metrics: this.metrics,
      log: opts.log,
      limits: this.#limits,
    });
  }

  /**
   * Serves one carrier in this thread (not with Workers): any byte-stream Conn that starts
   * with the Turbo Tunnel token and ClientID (a WebSocket's messages, a memory twin).
   * Resolves when it ends; closes it.
   */
  serveConn(conn: Conn, info: ConnInfo = {}): Promise<void> {
    if (this.#carriers === null) throw new TypeError("serveConn: the carriers are in Workers");
    return this.#carriers.serve(conn, info);
  }

  /** Serves every Conn `listener` accepts until it closes (`info` tells about each). */
  async serve(listener: Listener, info: (conn: Conn) => ConnInfo = () => ({})): Promise<void> {
    for await (const conn of listener) void this.serveConn(conn, info(conn));
  }

  /**
   * Listens on `addr` (WebSocket, with TLS when `tls` is given; anything else gets 400 like
   * the Go server); with Workers, every Worker listens on the port. Resolves with the bound
   * address.
   */
  async listen(
    addr: { hostname: string; port: number },
    tls?: { cert: string; key: string },
  ): Promise<Deno.NetAddr> {
    const { hostname } = addr;
    if (this.#carriers !== null) {
      const listener = await this.#carriers.listen(addr, tls);
      this.#listeners.push(listener);
      return { transport: "tcp", hostname: listener.addr.hostname, port: listener.addr.port };
    }
    // SO_REUSEPORT would let the Workers silently share a port that another server of the
    // same user already listens on: a plain bind first fails as without Workers.
    if (addr.port !== 0) await (await WsListener.listen({ hostname, port: addr.port })).close();
    // The first Worker picks the port when asked for any; the others join it.
    const [first, ...rest] = this.#workers;
    const port = await first!.listen(hostname, addr.port, tls);
    await Promise.all(rest.map((w) => w.listen(hostname, port, tls)));
    return { transport: "tcp", hostname, port };
  }

  /** Serves new TLS connections with a renewed certificate (no restart). */
  reloadTls(cert: string, key: string): void {
    for (const l of this.#listeners) l.reloadTls(cert, key);
    for (const w of this.#workers) w.reloadTls(cert, key);
  }

  /** Live KCP sessions over all instances. */
  get numSessions(): number {
    return this.#instances.reduce((n, i) => n + i.numSessions, 0) +
      this.#workers.reduce((n, w) => n + (w.gauges.sessionsActive ?? 0), 0);
  }

  /** Current metrics, with the queue drop counters and the Workers' metrics folded in. */
  renderMetrics(): string {
    this.#carriers?.foldLive();
    const m = new Metrics();
    Object.assign(m.counters, this.metrics.counters);
    Object.assign(m.gauges, this.metrics.gauges);
    m.counters.outgoingDrops += this.#instances.reduce((n, i) => n + i.outgoingDrops, 0);
    m.gauges.queuedBytes += this.#instances.reduce((n, i) => n + i.pconn.queues.bytes, 0);
    for (const w of this.#workers) {
      for (const k of Object.keys(m.counters) as (keyof Metrics["counters"])[]) {
        m.counters[k] += w.counters[k] ?? 0;
      }
      for (const k of Object.keys(m.gauges) as (keyof Metrics["gauges"])[]) {
        m.gauges[k] += w.gauges[k] ?? 0;
      }
    }
    return m.render();
  }

  async close(): Promise<void> {
    this.#carriers?.close();
    for (const i of this.#instances) i.close();
    for (const w of this.#workers) w.close();
    this.#clientIps.close();
    await Promise.allSettled(this.#listeners.map((l) => l.close()));
  }
}
