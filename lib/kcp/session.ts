/**
 * A KCP session as a reliable byte stream ({@link Conn}) over any PacketConn,
 * with a timer driven by the engine and kcp-go's optional crypt framing.
 *
 * @module
 */
import { ClosedError, TimeoutError } from "../net/errors.ts";
import type { Addr, Conn, PacketConn } from "../net/types.ts";
import { CRYPT_HEADER_SIZE, openNone, sealNone } from "./crypt.ts";
import { KcpEngine } from "./engine.ts";
import { type KcpOptions, type ResolvedKcpOptions, resolveOptions } from "./options.ts";

/** Per-session counters of what was dropped on input. */
export interface KcpSessionStats {
  packetsIn: number;
  /** Crypt framing too short or CRC mismatch. */
  badCrc: number;
  /** Rejected by the engine (wrong conv, bad length or command). */
  badPackets: number;
}

// Implementation constants.
/** Readable queue depth in segments; beyond it data waits in the engine and the window shrinks. */
const READ_HIGH_WATER = 64;

const noop = () => {};

/** Internal wiring used by {@link KcpListener}. */
export interface SessionHooks {
  /** The listener reads the PacketConn and calls input(); the session must not. */
  demuxed: boolean;
  onClose?: (s: KcpSession) => void;
}

export class KcpSession implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddr: Addr;
  readonly engine: KcpEngine;
  readonly closed: Promise<void>;
  readonly stats: KcpSessionStats = { packetsIn: 0, badCrc: 0, badPackets: 0 };

  #pconn: PacketConn;
  #opts: ResolvedKcpOptions;
  #hooks: SessionHooks;
  #crypt: boolean;
  #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #isClosed = false;
  #resolveClosed!: () => void;
  #readCtl!: ReadableStreamDefaultController<Uint8Array>;
  #writeWaiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  #abort = new AbortController();
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #onAckTimer = () => {
    this.#ackTimer = undefined;
    if (this.#isClosed || this.engine.pendingAcks === 0) return;
    this.engine.setClock(this.#now());
    this.engine.flush(true);
  };
  #onTimer = () => {
    this.#timer = undefined;
    if (this.#isClosed) return;
    this.engine.update(this.#now());
    this.#afterEngine();
  };

  constructor(
    pconn: PacketConn,
    remote: Addr,
    conv: number,
    options: KcpOptions | ResolvedKcpOptions = {},
    hooks: SessionHooks = { demuxed: false },
  ) {
    const o = resolveOptions(options);
    this.#opts = o;
    this.#pconn = pconn;
    this.remoteAddr = remote;
    this.#hooks = hooks;
    this.#crypt = o.crypt === "none";
    this.#now = o.now;
    const reserved = this.#crypt ? CRYPT_HEADER_SIZE : 0;
    this.engine = new KcpEngine(conv, (p) => this.#output(p), reserved);
    this.engine.setMtu(o.mtu);
    this.engine.setNoDelay(o.nodelay, o.interval, o.resend, o.nc);
    this.engine.setWindow(o.sndWnd, o.rcvWnd);
    this.engine.stream = o.stream;
    this.closed = new Promise((r) => (this.#resolveClosed = r));

    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#readCtl = c;
      },
      pull: () => {
        this.#deliver();
        this.#schedule();
      },
      cancel: () => this.close(),
    }, { highWaterMark: READ_HIGH_WATER });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => this.#flushNow(),
      abort: () => this.close(),
    });
    if (!hooks.demuxed) this.#readLoop();
  }

  get conv(): number {
    return this.engine.conv;
  }

  get localAddr(): Addr {
    return this.#pconn.localAddr;
  }

  /** Feeds one packet as read from the PacketConn (framing included). Never throws. */
  input(packet: Uint8Array): void {
    if (this.#isClosed) return;
    this.stats.packetsIn++;
    let body: Uint8Array | null = packet;
    if (this.#crypt) {
      body = openNone(packet);
      if (body === null) {
        this.stats.badCrc++;
        return;
      }
    }
    if (this.engine.input(body, this.#now()) < 0) this.stats.badPackets++;
    if (this.engine.flushDue) {
      // The window slid (or the path came back): refill it now, as kcp-go does,
      // rather than at the next interval (sndWnd segments per interval otherwise).
      this.engine.flush();
    } else if (this.#opts.ackNoDelay || this.engine.pendingAcks >= this.engine.mss / 24) {
      this.engine.flush(true);
    } else if (this.engine.pendingAcks > 0 && this.#ackTimer === undefined) {
      // Acknowledge at the end of this burst of packets rather than at the next
      // interval: a 10 ms ack delay would cap throughput at window / 10 ms.
      this.#ackTimer = setTimeout(this.#onAckTimer, 0);
    }
    this.#deliver();
    this.#afterEngine();
  }

  /**
   * Whether the path to the peer has a carrier (the server calls this when a
   * ClientID's send queue gains its first carrier or loses its last). While
   * down the session sends nothing but acknowledgements and no retransmission
   * timer, backoff or dead-link count advances, so it costs only its buffers.
   * On up, every outstanding segment is resent at once with a fresh RTO.
   */
  setPathUp(up: boolean): void {
    if (this.#isClosed || up === this.engine.pathUp) return;
    this.engine.setPathUp(up);
    if (up) this.#flushNow();
  }

  async #readLoop(): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      let data: Uint8Array;
      try {
        ({ data } = await this.#pconn.readFrom(signal));
      } catch {
        this.close();
        return;
      }
      this.input(data);
    }
  }

  #output(packet: Uint8Array): void {
    if (this.#crypt) sealNone(packet);
    // The packet is ours (the engine never reuses it): no copy needed.
    this.#pconn.writeTo(packet, this.remoteAddr).catch(noop);
  }

  #deliver(): void {
    const c = this.#readCtl;
    while ((c.desiredSize ?? 0) > 0) {
      const data = this.engine.recv();
      if (data === null) break;
      c.enqueue(data);
    }
  }

  #afterEngine(): void {
    const e = this.engine;
    if (e.dead && this.#opts.closeOnDeadLink) {
      this.#fail(new TimeoutError("KCP session (dead link)"));
      return;
    }
    if (this.#writeWaiter !== null && e.waitSnd < e.sendCapacity) {
      const w = this.#writeWaiter;
      this.#writeWaiter = null;
      w.resolve();
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#isClosed || this.#timer !== undefined) return;
    if (this.engine.idle) return;
    this.#timer = setTimeout(this.#onTimer, this.engine.check(this.#now()));
  }

  async #write(chunk: Uint8Array): Promise<void> {
    const e = this.engine;
    while (e.waitSnd >= e.sendCapacity) {
      if (this.#isClosed) throw new ClosedError("KCP session");
      await new Promise<void>((resolve, reject) => (this.#writeWaiter = { resolve, reject }));
    }
    if (this.#isClosed) throw new ClosedError("KCP session");
    e.send(chunk);
    this.#flushNow();
  }

  #flushNow(): void {
    if (this.#isClosed) return;
    this.engine.setClock(this.#now());
    this.engine.flush();
    this.#afterEngine();
  }

  #fail(reason: Error): void {
    if (this.#isClosed) return;
    try {
      this.#readCtl.error(reason);
    } catch { /* already closed */ }
    this.#teardown(reason);
  }

  /** Closes the session (KCP has no FIN: the peer learns through the layer above). */
  close(): void {
    if (this.#isClosed) return;
    if (this.engine.pendingAcks > 0) {
      this.engine.setClock(this.#now());
      this.engine.flush(true);
    }
    try {
      this.#readCtl.close();
    } catch { /* already closed or errored */ }
    this.#teardown(new ClosedError("KCP session"));
  }

  #teardown(reason: Error): void {
    this.#isClosed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#timer = this.#ackTimer = undefined;
    this.#abort.abort(reason);
    this.#writeWaiter?.reject(reason);
    this.#writeWaiter = null;
    this.writable.abort(reason).catch(noop);
    this.engine.reset();
    if (!this.#hooks.demuxed && this.#opts.ownsConn) this.#pconn.close();
    this.#hooks.onClose?.(this);
    this.#resolveClosed();
  }
}

/** Random u32 for a new conversation. */
export function randomConv(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** Starts a client session to `remote` over `pconn` (kcp-go's NewConn). */
export function dialKcp(pconn: PacketConn, remote: Addr, options: KcpOptions = {}): KcpSession {
  return new KcpSession(pconn, remote, options.conv ?? randomConv(), options);
}
