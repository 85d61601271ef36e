/**
 * The WebSocket side of the server: each proxy connection starts with the Turbo Tunnel
 * token and a ClientID (PROTOCOL.md §1), then carries encapsulated packets (§2) both ways.
 *
 * Messages are decoded synchronously as they arrive and handed to the client's
 * QueuePacketConn, which drops when full, so a flood never buffers more than one partial
 * packet per connection. Anything malformed closes only that connection and is counted.
 *
 * @module
 */
import { PacketDecoder } from "../lib/encapsulation/mod.ts";
import { CLIENT_ID_LENGTH, ClientID, TOKEN } from "../lib/turbotunnel/mod.ts";
import type { Addr } from "../lib/net/mod.ts";
import type { Outbox } from "./outbox.ts";
import { ChurnGc } from "./churn_gc.ts";
import type { Logger } from "../lib/log/mod.ts";
import type { ClientIPs } from "./client_ips.ts";
import type { Metrics } from "./metrics.ts";

const HEADER_LENGTH = TOKEN.length + CLIENT_ID_LENGTH;

/** Limits on one connection; every default has its reason. */
export interface WsLimits {
  /** Close if the token and ClientID have not arrived by then (half-open). Default 30 s. */
  handshakeTimeoutMs: number;
  /** Close after this long without a message; clients send smux keepalives every 10 s. Default 120 s. */
  idleTimeoutMs: number;
  /** Largest packet accepted; KCP packets are ≤ 1400 bytes (MTU). Default 65535. */
  maxPacket: number;
  /** Largest WebSocket message accepted; proxies relay data-channel messages (≤ 64 KiB). Default 1 MiB. */
  maxMessage: number;
  /** Stop draining the send queue while the socket has this much unsent. Default 1 MiB. */
  sendHighWater: number;
  /** Packets are batched into messages of up to this size. Default 64 KiB. */
  batchBytes: number;
}

export const DEFAULT_WS_LIMITS: Readonly<WsLimits> = Object.freeze({
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  maxPacket: 65535,
  maxMessage: 1024 * 1024,
  sendHighWater: 1024 * 1024,
  batchBytes: 64 * 1024,
});

/**
 * Where a connection's packets go and where its replies come from: an in-thread KCP
 * instance, or the main-thread end of a KCP Worker.
 */
export interface TunnelPort {
  /** Hands one packet from the client to KCP; false if it was dropped. */
  queueIncoming(data: Uint8Array, addr: Addr): boolean;
  /** The client's outbox, to be drained by this connection until {@link release}. */
  attach(addr: Addr): Outbox;
  release(addr: Addr, box: Outbox): void;
}

export interface WsContext {
  /** The tunnel that serves this ClientID (num-turbotunnel routing). */
  route(id: ClientID): TunnelPort;
  /** Called when a connection's ClientID and the proxy's client_ip are known. */
  onClientIp?(id: ClientID, ip: string): void;
  clientIps: ClientIPs;
  metrics: Metrics;
  log: Logger;
  limits?: Partial<WsLimits>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One proxy connection. */
class WsConn {
  readonly started = Date.now();
  lastMessage = Date.now();
  id: ClientID | null = null;
  #ws: WebSocket;
  #ctx: WsContext;
  #limits: WsLimits;
  #header = new Uint8Array(HEADER_LENGTH);
  #have = 0;
  #decoder = new PacketDecoder();
  #pconn: TunnelPort | null = null;
  #sincePacket = 0;
  #abort = new AbortController();
  #clientIp: string | null;
  #onClose: () => void;

  constructor(
    ws: WebSocket,
    clientIp: string | null,
    ctx: WsContext,
    limits: WsLimits,
    onClose: () => void,
  ) {
    this.#ws = ws;
    this.#onClose = onClose;
    this.#ctx = ctx;
    this.#limits = limits;
    this.#clientIp = clientIp;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    ws.onclose = () => this.close();
    ws.onerror = () => this.close();
  }

  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  close(): void {
    if (this.closed) return;
    this.#abort.abort();
    try {
      this.#ws.close();
    } catch { /* not open */ }
    this.#onClose();
  }

  #onMessage(data: unknown): void {
    if (this.closed) return;
    const { metrics } = this.#ctx;
    this.lastMessage = Date.now();
    if (!(data instanceof ArrayBuffer)) {
      metrics.counters.textMessages++;
      this.close();
      return;
    }
    metrics.counters.bytesFromClients += data.byteLength;
    if (data.byteLength > this.#limits.maxMessage) {
      metrics.counters.floodCloses++;
      this.close();
      return;
    }
    let chunk = new Uint8Array(data);
    if (this.#have < HEADER_LENGTH) {
      const take = Math.min(chunk.length, HEADER_LENGTH - this.#have);
      for (let i = 0; i < take; i++) {
        const pos = this.#have + i;
        if (pos < TOKEN.length && chunk[i] !== TOKEN[pos]) {
          metrics.counters.badToken++;
          this.close();
          return;
        }
        this.#header[pos] = chunk[i]!;
      }
      this.#have += take;
      chunk = chunk.subarray(take);
      if (this.#have < HEADER_LENGTH) return;
      this.#start();
    }
    if (chunk.length > 0) this.#feed(chunk);
  }

  #start(): void {
    const id = new ClientID(this.#header.subarray(TOKEN.length));
    this.id = id;
    if (this.#clientIp) {
      this.#ctx.clientIps.set(id.hex, this.#clientIp);
      this.#ctx.onClientIp?.(id, this.#clientIp);
    }
    this.#pconn = this.#ctx.route(id);
    void this.#writeLoop(this.#pconn, id);
  }

  #feed(chunk: Uint8Array): void {
    const { metrics } = this.#ctx;
    const pconn = this.#pconn!;
    this.#decoder.push(chunk);
    let got = false;
    try {
      for (let p = this.#decoder.next(); p !== null; p = this.#decoder.next()) {
        got = true;
        if (p.length > this.#limits.maxPacket) {
          metrics.counters.oversizePackets++;
          this.close();
          return;
        }
        metrics.counters.packetsFromClients++;
        if (!pconn.queueIncoming(p, this.id!)) metrics.counters.incomingDrops++;
      }
    } catch {
      metrics.counters.badEncapsulation++;
      this.close();
      return;
    }
    // A declared length beyond maxPacket shows up as bytes without a finished packet.
    this.#sincePacket = got ? 0 : this.#sincePacket + chunk.length;
    if (this.#decoder.midChunk && this.#sincePacket > this.#limits.maxPacket + 3) {
      metrics.counters.oversizePackets++;
      this.close();
    }
  }

  async #writeLoop(port: TunnelPort, id: ClientID): Promise<void> {
    const { metrics } = this.#ctx;
    const signal = this.#abort.signal;
    const box = port.attach(id);
    try {
      for (;;) {
        await box.ready(signal);
        for (let m = box.take(this.#limits.batchBytes); m; m = box.take(this.#limits.batchBytes)) {
          if (this.closed) return;
          this.#ws.send(m.data as Uint8Array<ArrayBuffer>);
          metrics.counters.packetsToClients += m.packets;
          metrics.counters.bytesToClients += m.data.length;
          if (this.#ws.bufferedAmount > this.#limits.sendHighWater) break;
        }
        while (this.#ws.bufferedAmount > this.#limits.sendHighWater && !this.closed) await sleep(2);
      }
    } catch {
      // Closed connection or closed instance: the client redials through another proxy.
    } finally {
      port.release(id, box);
      this.close();
    }
  }
}

/** All live WebSocket connections, with the handshake and idle timeouts. */
export class WsConnections {
  #ctx: WsContext;
  #limits: WsLimits;
  #conns = new Set<WsConn>();
  #gc = new ChurnGc();
  #timer: ReturnType<typeof setInterval>;

  constructor(ctx: WsContext) {
    this.#ctx = ctx;
    this.#limits = { ...DEFAULT_WS_LIMITS, ...ctx.limits };
    const period = Math.max(
      100,
      Math.min(this.#limits.handshakeTimeoutMs, this.#limits.idleTimeoutMs) / 4,
    );
    this.#timer = setInterval(() => this.#sweep(), period);
    Deno.unrefTimer(Number(this.#timer));
  }

  get size(): number {
    return this.#conns.size;
  }

  /** Takes over an upgraded socket. `clientIp` is the proxy's `client_ip`, already validated. */
  handle(ws: WebSocket, clientIp: string | null): void {
    const { metrics } = this.#ctx;
    metrics.counters.connections++;
    metrics.gauges.connectionsActive++;
    const conn: WsConn = new WsConn(ws, clientIp, this.#ctx, this.#limits, () => {
      if (!this.#conns.delete(conn)) return;
      metrics.gauges.connectionsActive--;
      this.#gc.closed();
    });
    this.#conns.add(conn);
  }

  #sweep(): void {
    const now = Date.now();
    const { metrics } = this.#ctx;
    for (const c of this.#conns) {
      if (c.id === null && now - c.started > this.#limits.handshakeTimeoutMs) {
        metrics.counters.handshakeTimeouts++;
        c.close();
      } else if (now - c.lastMessage > this.#limits.idleTimeoutMs) {
        metrics.counters.idleTimeouts++;
        c.close();
      }
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const c of this.#conns) c.close();
  }
}
