/**
 * In-memory twins of the network interfaces, for unit tests without sockets.
 *
 * @module
 */
import { NamedAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import { AsyncQueue } from "./queue.ts";
import { packetSlab } from "./slab.ts";
import type { Addr, Conn, Packet, PacketConn } from "./types.ts";

/** One end of a {@link memoryPacketPair}. Packets written to it arrive at its peer. */
export class MemoryPacketConn implements PacketConn {
  readonly inbox: AsyncQueue<Packet>;
  peer: MemoryPacketConn | null = null;

  constructor(readonly localAddr: Addr, capacity = 4096) {
    this.inbox = new AsyncQueue(capacity);
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.inbox.shift(signal);
  }

  writeTo(data: Uint8Array, _addr: Addr): Promise<void> {
    if (this.inbox.closed) return Promise.reject(new ClosedError("packet conn"));
    this.peer?.inbox.push({ data: packetSlab.copy(data), addr: this.localAddr });
    return Promise.resolve();
  }

  close(): void {
    this.inbox.close(new ClosedError("packet conn"));
  }
}

/** Two packet conns wired to each other, each with a bounded inbox (full → drop). */
export function memoryPacketPair(
  capacity = 4096,
): [MemoryPacketConn, MemoryPacketConn] {
  const a = new MemoryPacketConn(new NamedAddr("memory", "a"), capacity);
  const b = new MemoryPacketConn(new NamedAddr("memory", "b"), capacity);
  a.peer = b;
  b.peer = a;
  return [a, b];
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
