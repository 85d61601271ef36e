/**
 * In-memory twins of the network interfaces, for unit tests without sockets.
 *
 * @module
 */
import { NamedAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import { AsyncQueue } from "./queue.ts";
import { packetSlab } from "./slab.ts";
import type { Addr, Conn, Listener, Packet, PacketConn } from "./types.ts";

/**
 * A lossless in-memory switch for datagrams: endpoints bound at addresses (keyed by their
 * string form), and a packet written to an address arrives at the endpoint bound there,
 * from the writer's address. Packets to nobody, or to a full inbox, are dropped and
 * counted. A `tap` sees every packet first (captures, tampering, outages).
 */
export class MemorySwitch {
  #endpoints = new Map<string, MemoryPacketConn>();
  /** Packets addressed to nobody, or refused by a full inbox. */
  dropped = 0;
  /** Called with every packet before delivery; return false to drop it. */
  tap: ((data: Uint8Array, from: Addr, to: Addr) => boolean) | null = null;

  /** A new endpoint at `addr`, whose inbox holds `capacity` packets (full → drop). */
  bind(addr: Addr, capacity = 4096): MemoryPacketConn {
    const e = new MemoryPacketConn(this, addr, capacity);
    this.#attach(e, addr);
    return e;
  }

  /** Sends a packet with any source address (spoofing, replays). */
  deliver(data: Uint8Array, from: Addr, to: Addr): void {
    if (this.tap && !this.tap(data, from, to)) return;
    const e = this.#endpoints.get(to.toString());
    if (!e || !e.inbox.push({ data: packetSlab.copy(data), addr: from })) this.dropped++;
  }

  #attach(e: MemoryPacketConn, addr: Addr): void {
    if (this.#endpoints.has(addr.toString())) throw new RangeError(`${addr} is already bound`);
    this.#endpoints.set(addr.toString(), e);
  }

  /** @internal Moves `e` from `from` to `to`. */
  move(e: MemoryPacketConn, from: Addr, to: Addr): void {
    this.#attach(e, to);
    this.#endpoints.delete(from.toString());
  }

  /** @internal */
  remove(e: MemoryPacketConn): void {
    if (this.#endpoints.get(e.localAddr.toString()) === e) {
      this.#endpoints.delete(e.localAddr.toString());
    }
  }
}

/** An endpoint of a {@link MemorySwitch}. */
export class MemoryPacketConn implements PacketConn {
  readonly inbox: AsyncQueue<Packet>;
  #switch: MemorySwitch;
  #addr: Addr;

  constructor(sw: MemorySwitch, addr: Addr, capacity: number) {
    this.#switch = sw;
    this.#addr = addr;
    this.inbox = new AsyncQueue(capacity);
  }

  get localAddr(): Addr {
    return this.#addr;
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.inbox.shift(signal);
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.inbox.closed) return Promise.reject(new ClosedError("packet conn"));
    this.#switch.deliver(data, this.#addr, addr);
    return Promise.resolve();
  }

  /** Moves this endpoint to `addr` (roaming): later packets leave from and arrive at it. */
  rebind(addr: Addr): void {
    this.#switch.move(this, this.#addr, addr);
    this.#addr = addr;
  }

  close(): void {
    this.#switch.remove(this);
    this.inbox.close(new ClosedError("packet conn"));
  }
}

/** Two endpoints of a new {@link MemorySwitch}, `memory:a` and `memory:b`. */
export function memoryPacketPair(
  capacity = 4096,
): [MemoryPacketConn, MemoryPacketConn] {
  const sw = new MemorySwitch();
  return [
    sw.bind(new NamedAddr("memory", "a"), capacity),
    sw.bind(new NamedAddr("memory", "b"), capacity),
  ];
}

/** Impairments applied by {@link LossyPacketConn} to packets it writes. */
export interface LossOptions {
  /** Probability in [0,1] that a packet is dropped. Default 0. */
  loss?: number;
  /** Fixed one-way delay in ms. Default 0. */
  delayMs?: number;
  /** Extra random delay in [0, jitterMs) ms, which reorders packets. Default 0. */
  jitterMs?: number;
  /** Probability that a packet is sent twice. Default 0. */
  duplicate?: number;
  /** Probability that a packet is held back behind the next one. Default 0. */
  reorder?: number;
  /** Random source in [0,1); inject a seeded one for determinism. Default Math.random. */
  random?: () => number;
}

/** Wraps a PacketConn and drops, delays, duplicates and reorders what it writes. */
export class LossyPacketConn implements PacketConn {
  #inner: PacketConn;
  #opts: Required<LossOptions>;
  #held: { data: Uint8Array; addr: Addr } | null = null;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;
  dropped = 0;

  constructor(inner: PacketConn, options: LossOptions = {}) {
    this.#inner = inner;
    this.#opts = {
      loss: 0,
      delayMs: 0,
      jitterMs: 0,
      duplicate: 0,
      reorder: 0,
      random: Math.random,
      ...options,
    };
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.#inner.readFrom(signal);
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("packet conn"));
    const o = this.#opts;
    if (o.random() < o.loss) {
      this.dropped++;
      return Promise.resolve();
    }
    const copy = packetSlab.copy(data);
    const copies = o.random() < o.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (o.random() < o.reorder && this.#held === null) {
        this.#held = { data: copy, addr };
        continue;
      }
      this.#schedule(copy, addr);
      if (this.#held) {
        const held = this.#held;
        this.#held = null;
        this.#schedule(held.data, held.addr);
      }
    }
    return Promise.resolve();
  }

  #schedule(data: Uint8Array, addr: Addr): void {
    const delay = this.#opts.delayMs + this.#opts.random() * this.#opts.jitterMs;
    if (delay <= 0) {
      this.#inner.writeTo(data, addr).catch(() => {});
      return;
    }
    const id = setTimeout(() => {
      this.#timers.delete(id);
      if (!this.#closed) this.#inner.writeTo(data, addr).catch(() => {});
    }, delay);
    this.#timers.add(id);
  }

  close(): void {
    this.#closed = true;
    for (const id of this.#timers) clearTimeout(id);
    this.#timers.clear();
    this.#inner.close();
  }
}

/** One end of a {@link memoryConnPair}. */
export interface MemoryConn extends Conn {
  readonly closed: Promise<void>;
}

/** Two byte-stream conns wired to each other. Closing the writable half-closes. */
export function memoryConnPair(): [MemoryConn, MemoryConn] {
  const aAddr = new NamedAddr("memory", "a");
  const bAddr = new NamedAddr("memory", "b");
  // The transform controllers let close() error both directions even while the conn's
  // streams are locked by a reader/writer (cancel/abort alone fail on locked streams).
  let abCtl!: TransformStreamDefaultController<Uint8Array>;
  let baCtl!: TransformStreamDefaultController<Uint8Array>;
  const ab = new TransformStream<Uint8Array, Uint8Array>(
    { start: (c) => void (abCtl = c) },
    { highWaterMark: 16 },
  );
  const ba = new TransformStream<Uint8Array, Uint8Array>(
    { start: (c) => void (baCtl = c) },
    { highWaterMark: 16 },
  );
  const make = (
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    local: Addr,
    remote: Addr,
    controllers: TransformStreamDefaultController<Uint8Array>[],
  ): MemoryConn => {
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    return {
      readable,
      writable,
      localAddr: local,
      remoteAddr: remote,
      closed,
      close() {
        readable.cancel().catch(() => {});
        writable.abort(new ClosedError()).catch(() => {});
        for (const c of controllers) c.error(new ClosedError());
        resolveClosed();
      },
    };
  };
  return [
    make(ba.readable, ab.writable, aAddr, bAddr, [abCtl, baCtl]),
    make(ab.readable, ba.writable, bAddr, aAddr, [abCtl, baCtl]),
  ];
}

/**
 * A {@link Listener} twin: {@link dial} makes a {@link memoryConnPair} and hands one end to
 * whoever iterates the listener.
 */
export class MemoryListener implements Listener {
  readonly addr: Addr;
  #accepts = new AsyncQueue<Conn>();

  constructor(addr: Addr = new NamedAddr("memory", "listener")) {
    this.addr = addr;
  }

  /** Connects: resolves with the client end; the server end goes to the listener. */
  dial(): Promise<MemoryConn> {
    const [client, server] = memoryConnPair();
    if (!this.#accepts.push(server)) return Promise.reject(new ClosedError("memory listener"));
    return Promise.resolve(client);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Conn> {
    for (;;) {
      try {
        yield await this.#accepts.shift();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  close(): void {
    this.#accepts.close(new ClosedError("memory listener"));
  }
}
