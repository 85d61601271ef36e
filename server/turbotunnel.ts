/**
 * One Turbo Tunnel instance of the server (docs/ARCHITECTURE.md): a QueuePacketConn fed
 * by the carriers, a KCP listener over it, a smux server session per KCP session, and for
 * every stream a connection to tor's ExtORPort (or ORPort) carrying the client's USERADDR.
 *
 * A session lives as long as upstream lets it: until smux's keepalive timeout (4 min
 * without a frame from the client) or KCP's dead link. While its client has no carrier,
 * its KCP sender is paused ({@link TurbotunnelInstance.setPath}), so it neither
 * retransmits into the void nor backs off, and resumes at once on the next carrier.
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
import { type Conn, NamedAddr } from "../lib/net/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import { type SmuxConfig, SmuxSession, SNOWFLAKE_SMUX_SERVER } from "../lib/smux/mod.ts";
import { dialOr, type OrTarget, type TcpConnect, userAddrFromIP } from "../lib/pt/extorport.ts";
import type { ClientIPs } from "./client_ips.ts";
import type { Metrics } from "./metrics.ts";
import { denoConnect, pipeStream } from "./orport.ts";
import { ChurnGc } from "./churn_gc.ts";
import { type ClientID, QueuePacketConn } from "../lib/turbotunnel/mod.ts";
import type { CarrierEndpoint } from "../lib/turbotunnel/mod.ts";

/** PT method name reported to tor in TRANSPORT. */
export const METHOD_NAME = "snowflake";

export interface TurbotunnelOptions {
  target: OrTarget;
  clientIps: ClientIPs;
  metrics: Metrics;
  /** Log sink; ClientIDs appear in it only when `unsafe` (they link a user's connections). */
  log: Pick<Logger, "log" | "unsafe">;
  /** Connector for tor (binds orport-srcaddr when set). Default Deno.connect. */
  connect?: TcpConnect;
  kcp?: KcpOptions;
  smux?: Partial<SmuxConfig>;
  /** Instance number, for logs. */
  index?: number;
  /** Hears of a client this instance holds nothing of any more: no send queue, no KCP session. */
  onGone?: (key: string) => void;
}

export class TurbotunnelInstance {
  readonly pconn: QueuePacketConn;
  #listener: KcpListener;
  #opts: TurbotunnelOptions;
  #sessions = new Set<SmuxSession>();
  /** Each client's live KCP session, for {@link setPath}. */
  #kcpOf = new Map<string, KcpSession>();
  /** Clients whose carriers are all gone. */
  #down = new Set<string>();
  #gc = new ChurnGc();

  constructor(opts: TurbotunnelOptions) {
    this.#opts = opts;
    this.pconn = new QueuePacketConn(new NamedAddr("turbotunnel", `kcp-${opts.index ?? 0}`), {
      onPath: (key, up) => this.setPath(key, up),
      onExpire: (key) => this.forgetPath(key),
    });
    this.#listener = listenKcp(this.pconn, { ...SNOWFLAKE_KCP, ...opts.kcp });
    void this.#acceptLoop();
  }

  /** A carrier of `id`, draining this instance's own send queue for it. */
  endpoint(id: ClientID): CarrierEndpoint {
    return this.pconn.endpoint(id);
  }

  /**
   * Client `key` gained its first carrier (`up`) or lost its last one: its KCP sender
   * resumes at once, or pauses instead of retransmitting into the void.
   */
  setPath(key: string, up: boolean): void {
    if (up) this.#down.delete(key);
    else this.#down.add(key);
    this.#kcpOf.get(key)?.setPathUp(up);
  }

  /** Client `key` is gone from the carriers' side (its send queue expired). */
  forgetPath(key: string): void {
    this.#down.delete(key);
    if (!this.#kcpOf.has(key)) this.#opts.onGone?.(key);
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
      reuseBatches: true,
    });
    const kcp = conn as KcpSession;
    const key = conn.remoteAddr.toString();
    this.#sessions.add(smux);
    this.#kcpOf.set(key, kcp);
    if (this.#down.has(key)) kcp.setPathUp(false);
    const opened = Date.now();
    let streams = 0;
    let reason = "closed";
    const who = this.#opts.log.unsafe ? `session ${key}` : "a session";
    this.#opts.log.log(`${who} opened (instance ${this.#opts.index ?? 0})`);
    try {
      for (;;) {
        const stream = await smux.acceptStream();
        streams++;
        void this.#serveStream(stream, conn.remoteAddr.toString());
      }
    } catch (e) {
      // The session ended: keepalive timeout, KCP dead link, protocol error or close.
      reason = (e as Error)?.message ?? String(e);
    } finally {
      this.#opts.log.log(
        `${who} closed (${reason}) after ${((Date.now() - opened) / 1000).toFixed(0)} s, ` +
          `${streams} streams`,
      );
      smux.close();
      this.#sessions.delete(smux);
      if (this.#kcpOf.get(key) === kcp) {
        this.#kcpOf.delete(key);
        if (!this.pconn.queues.has(key)) this.#opts.onGone?.(key);
      }
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
      await pipeStream(stream, or, { reuseReadBuffer: true });
    } finally {
      metrics.gauges.streamsActive--;
    }
  }

  /** Packets KCP wanted to send that a full client queue dropped. */
  get outgoingDrops(): number {
    return this.pconn.outgoingDrops;
  }

  /** Packets from clients dropped because KCP's receive queue was full. */
  get incomingDrops(): number {
    return this.pconn.incomingDrops;
  }

  close(): void {
    for (const s of this.#sessions) s.close();
    this.#listener.close();
    this.pconn.close();
  }
}
