/**
 * One Turbo Tunnel instance of the server (PROTOCOL.md §5): a QueuePacketConn fed by the
 * WebSocket side, a KCP listener over it, a smux server session per KCP session, and for
 * every stream a connection to tor's ExtORPort (or ORPort) carrying the client's USERADDR.
 *
 * @module
 */
import {
  type KcpListener,
  type KcpOptions,
  type KcpSession,
  listenKcp,
  SNOWFLAKE_KCP,
} from "../lib/kcp/mod.ts";
import { type Addr, type Conn, NamedAddr, type PacketConn } from "../lib/net/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import { type SmuxConfig, SmuxSession, SNOWFLAKE_SMUX_SERVER } from "../lib/smux/mod.ts";
import { dialOr, type OrTarget, type TcpConnect, userAddrFromIP } from "../lib/pt/extorport.ts";
import type { ClientIPs } from "./client_ips.ts";
import type { Metrics } from "./metrics.ts";
import { denoConnect, pipeStream } from "./orport.ts";
import { OutboxPacketConn } from "./outbox.ts";
import { ChurnGc } from "./churn_gc.ts";

/** PT method name reported to tor in TRANSPORT. */
export const METHOD_NAME = "snowflake";

export interface TurbotunnelOptions {
  target: OrTarget;
  clientIps: ClientIPs;
  metrics: Metrics;
  log: Logger;
  /** Connector for tor (binds orport-srcaddr when set). Default Deno.connect. */
  connect?: TcpConnect;
  kcp?: KcpOptions;
  smux?: Partial<SmuxConfig>;
  /** Instance number, for logs. */
  index?: number;
  /**
   * Close a session after this long without a packet from its client. Clients send smux
   * keepalives every 10 s, so silence means the client is gone; without this its session
   * would wait for the 4-minute smux keepalive timeout. Default 90 s; 0 disables.
   */
  clientIdleMs?: number;
  /**
   * The PacketConn KCP writes to. Default a new OutboxPacketConn (in-thread instance).
   * Packets from clients come in through {@link TurbotunnelInstance.input}.
   */
  pconn?: PacketConn;
}

// Implementation constants.
export const DEFAULT_CLIENT_IDLE_MS = 90_000;

interface LiveSession {
  kcp: KcpSession;
  packetsIn: number;
  lastHeard: number;
}

export class TurbotunnelInstance {
  readonly pconn: PacketConn;
  #listener: KcpListener;
  #opts: TurbotunnelOptions;
  #sessions = new Map<SmuxSession, LiveSession>();
  #gc = new ChurnGc();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: TurbotunnelOptions) {
    this.#opts = opts;
    this.pconn = opts.pconn ??
      new OutboxPacketConn(new NamedAddr("turbotunnel", `kcp-${opts.index ?? 0}`));
    this.#listener = listenKcp(this.pconn, { ...SNOWFLAKE_KCP, ...opts.kcp });
    void this.#acceptLoop();
    const idle = opts.clientIdleMs ?? DEFAULT_CLIENT_IDLE_MS;
    if (idle > 0) {
      this.#timer = setInterval(() => this.#sweep(idle), Math.max(100, Math.min(10_000, idle / 4)));
      Deno.unrefTimer(Number(this.#timer));
    }
  }

  #sweep(idleMs: number): void {
    const now = Date.now();
    for (const [smux, s] of this.#sessions) {
      if (s.kcp.stats.packetsIn !== s.packetsIn) {
        s.packetsIn = s.kcp.stats.packetsIn;
        s.lastHeard = now;
      } else if (now - s.lastHeard > idleMs) {
        this.#opts.metrics.counters.sessionIdleCloses++;
        smux.close();
      }
    }
  }

  /** Hands a packet from client `addr` to KCP (synchronously; never throws). */
  input(data: Uint8Array, addr: Addr): void {
    this.#listener.input(data, addr);
  }

  /** Live KCP sessions. */
  get numSessions(): number {
    return this.#listener.numSessions;
  }

  async #acceptLoop(): Promise<void> {
    for await (const conn of this.#listener) void this.#serveSession(conn);
  }

  async #serveSession(conn: Conn): Promise<void> {
    const { metrics } = this.#opts;
    metrics.counters.sessions++;
    metrics.gauges.sessionsActive++;
    const smux = new SmuxSession(conn, {
      client: false,
      config: { ...SNOWFLAKE_SMUX_SERVER, ...this.#opts.smux },
    });
    const kcp = conn as KcpSession;
    this.#sessions.set(smux, { kcp, packetsIn: kcp.stats.packetsIn, lastHeard: Date.now() });
    try {
      for (;;) {
        const stream = await smux.acceptStream();
        void this.#serveStream(stream, conn.remoteAddr.toString());
      }
    } catch {
      // The session ended: keepalive timeout, KCP dead link, protocol error or close.
    } finally {
      smux.close();
      this.#sessions.delete(smux);
      this.#gc.closed();
      metrics.gauges.sessionsActive--;
    }
  }

  async #serveStream(stream: Conn, clientId: string): Promise<void> {
    const { metrics, log, target, clientIps } = this.#opts;
    metrics.counters.streams++;
    metrics.gauges.streamsActive++;
    try {
      const ip = clientIps.get(clientId);
      let or;
      try {
        or = await dialOr(
          target,
          { userAddr: ip ? userAddrFromIP(ip) : undefined, transport: METHOD_NAME },
          this.#opts.connect ?? denoConnect,
        );
      } catch (e) {
        metrics.counters.orportErrors++;
        log.log(`failed to connect to ORPort: ${(e as Error).message}`);
        stream.close();
        return;
      }
      await pipeStream(stream, or);
    } finally {
      metrics.gauges.streamsActive--;
    }
  }

  /** Packets KCP wanted to send that a full client queue dropped. */
  get outgoingDrops(): number {
    return this.pconn instanceof OutboxPacketConn ? this.pconn.outboxes.drops : 0;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const s of this.#sessions.keys()) s.close();
    this.#listener.close();
    this.pconn.close();
  }
}
