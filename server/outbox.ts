/**
 * Per-client send queues of the server (the role of Go's ClientMap, PROTOCOL.md §5), holding
 * packets already encapsulated (§2) so that a WebSocket writer sends them as they are.
 *
 * Memory is bounded by who is listening. While a connection drains a client's outbox,
 * packets stay views into shared memory (KCP's slab, a worker's batch) and up to
 * {@link ATTACHED_PACKETS} wait. Once the client has no connection, what is queued is
 * copied out of the shared memory (a view would keep a whole slab alive) and at most
 * {@link DETACHED_PACKETS} wait for it to come back through another proxy; KCP retransmits
 * the rest. An outbox without a connection expires after {@link OUTBOX_TIMEOUT_MS} unused.
 *
 * @module
 */
import { type Addr, ClosedError, type Packet, type PacketConn } from "../lib/net/mod.ts";
import { prefixLength } from "../lib/encapsulation/mod.ts";

// Spec constants (PROTOCOL.md §5).
/** A client's queue is forgotten after this long without use (Go: clientMapTimeout). */
export const OUTBOX_TIMEOUT_MS = 60_000;
/** Queue depth while a connection drains it (Go: queueSize). */
export const ATTACHED_PACKETS = 512;

// Implementation constants.
/** Queue depth while the client has no connection. */
export const DETACHED_PACKETS = 32;
/** Bytes of encapsulated packets the in-thread writer packs per slab. */
const SLAB_BYTES = 64 * 1024;

/**
 * Writes the encapsulation prefix of a data packet of `n` bytes at `out[o]` (PROTOCOL.md §2:
 * big-endian 6+7+7 bits, 0x80 marks data, 0x40/0x80 mark a following byte).
 */
export function writeDataPrefix(out: Uint8Array, o: number, n: number): number {
  const len = prefixLength(n);
  if (len === 1) {
    out[o] = 0x80 | n;
  } else if (len === 2) {
    out[o] = 0xc0 | (n >>> 7);
    out[o + 1] = n & 0x7f;
  } else {
    out[o] = 0xc0 | (n >>> 14);
    out[o + 1] = 0x80 | ((n >>> 7) & 0x7f);
    out[o + 2] = n & 0x7f;
  }
  return len;
}

/** One client's queue of encapsulated bytes, in chunks of one or more packets. */
export class Outbox {
  #chunks: Uint8Array[] = [];
  #counts: number[] = [];
  #head = 0;
  #packets = 0;
  #bytes = 0;
  #writers = 0;
  #waiters: (() => void)[] = [];
  #closed = false;
  /** Last time a packet was queued or a writer came or went (for expiry). */
  lastUsed: number;
  /** Packets dropped because this outbox was full. */
  drops = 0;

  constructor(now: number) {
    this.lastUsed = now;
  }

  get attached(): boolean {
    return this.#writers > 0;
  }

  /** Writers waiting in {@link ready}. */
  get waiting(): number {
    return this.#waiters.length;
  }

  get packets(): number {
    return this.#packets;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `packets` encapsulated packets in `chunk`. While attached, `chunk` may be a view
   * into shared memory; a chunk that continues the previous one in the same buffer is
   * merged with it. False (dropped) when already full or closed.
   */
  push(chunk: Uint8Array, packets: number, now: number): boolean {
    this.lastUsed = now;
    const attached = this.#writers > 0;
    // A batch from a worker may hold many packets: it is refused only once the queue is full.
    if (this.#closed || this.#packets >= (attached ? ATTACHED_PACKETS : DETACHED_PACKETS)) {
      this.drops += packets;
      return false;
    }
    const last = this.#chunks.length > this.#head ? this.#chunks[this.#chunks.length - 1]! : null;
    if (
      attached && last !== null && last.buffer === chunk.buffer &&
      last.byteOffset + last.length === chunk.byteOffset
    ) {
      this.#chunks[this.#chunks.length - 1] = new Uint8Array(
        last.buffer,
        last.byteOffset,
        last.length + chunk.length,
      );
      this.#counts[this.#counts.length - 1]! += packets;
    } else {
      this.#chunks.push(attached ? chunk : chunk.slice());
      this.#counts.push(packets);
    }
    this.#packets += packets;
    this.#bytes += chunk.length;
    const waiters = this.#waiters;
    if (waiters.length > 0) {
      this.#waiters = [];
      for (const w of waiters) w();
    }
    return true;
  }

  /**
   * Takes queued bytes for one WebSocket message of at most about `maxBytes` (at least one
   * chunk): a chunk as it is, or several copied into one buffer. Undefined when empty.
   */
  take(maxBytes: number): { data: Uint8Array; packets: number } | undefined {
    if (this.#head >= this.#chunks.length) return undefined;
    let end = this.#head + 1;
    let size = this.#chunks[this.#head]!.length;
    while (end < this.#chunks.length && size + this.#chunks[end]!.length <= maxBytes) {
      size += this.#chunks[end]!.length;
      end++;
    }
    let data: Uint8Array;
    let packets = 0;
    if (end === this.#head + 1) {
      data = this.#chunks[this.#head]!;
      packets = this.#counts[this.#head]!;
    } else {
      data = new Uint8Array(size);
      let off = 0;
      for (let i = this.#head; i < end; i++) {
        data.set(this.#chunks[i]!, off);
        off += this.#chunks[i]!.length;
        packets += this.#counts[i]!;
      }
    }
    for (let i = this.#head; i < end; i++) this.#chunks[i] = EMPTY;
    this.#head = end;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#counts = [];
      this.#head = 0;
    }
    this.#packets -= packets;
    this.#bytes -= size;
    return { data, packets };
  }

  /** Resolves when something is queued (at once if already), or rejects on close/abort. */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.#head < this.#chunks.length) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ClosedError("outbox"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        if (this.#closed) reject(new ClosedError("outbox"));
        else resolve();
      };
      // An aborted writer must not stay in #waiters: it would keep its whole connection
      // alive for as long as the outbox lives.
      const onAbort = () => {
        const i = this.#waiters.indexOf(wake);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(wake);
    });
  }

  /** A connection starts draining this outbox. */
  attach(now: number): void {
    this.#writers++;
    this.lastUsed = now;
  }

  /**
   * A connection stops draining it. With no connection left, what is queued is copied out of
   * shared memory and cut to {@link DETACHED_PACKETS} (the newest beyond it are dropped).
   */
  detach(now: number): void {
    this.lastUsed = now;
    if (--this.#writers > 0) return;
    const chunks: Uint8Array[] = [];
    const counts: number[] = [];
    let packets = 0;
    let bytes = 0;
    for (let i = this.#head; i < this.#chunks.length; i++) {
      const n = this.#counts[i]!;
      if (packets + n > DETACHED_PACKETS) {
        this.drops += n;
        continue;
      }
      chunks.push(this.#chunks[i]!.slice());
      counts.push(n);
      packets += n;
      bytes += this.#chunks[i]!.length;
    }
    this.#chunks = chunks;
    this.#counts = counts;
    this.#head = 0;
    this.#packets = packets;
    this.#bytes = bytes;
  }

  close(): void {
    this.#closed = true;
    this.#chunks = [];
    this.#counts = [];
    this.#head = 0;
    this.#packets = this.#bytes = 0;
    for (const w of this.#waiters.splice(0)) w();
  }
}

const EMPTY = new Uint8Array(0);

/** The outboxes of all clients of one tunnel instance, keyed by `addr.toString()`. */
export class Outboxes {
  #boxes = new Map<string, Outbox>();
  #timer: ReturnType<typeof setInterval>;
  #closed = false;
  #now: () => number;
  #expiredDrops = 0;

  #onExpire: ((key: string) => void) | undefined;

  /** `onExpire` hears of each outbox the sweep forgets. */
  constructor(options: { now?: () => number; onExpire?: (key: string) => void } = {}) {
    this.#now = options.now ?? Date.now;
    this.#onExpire = options.onExpire;
    this.#timer = setInterval(() => this.sweep(), OUTBOX_TIMEOUT_MS / 6);
    Deno.unrefTimer(Number(this.#timer));
  }

  get size(): number {
    return this.#boxes.size;
  }

  /** Packets dropped because an outbox was full, over all clients ever. */
  get drops(): number {
    let n = this.#expiredDrops;
    for (const b of this.#boxes.values()) n += b.drops;
    return n;
  }

  /** The outbox of `key`, created on first use. */
  get(key: string): Outbox {
    let box = this.#boxes.get(key);
    if (box === undefined) {
      box = new Outbox(this.#now());
      if (this.#closed) box.close();
      this.#boxes.set(key, box);
    }
    return box;
  }

  /** Queues encapsulated packets for `key` (see {@link Outbox.push}). */
  push(key: string, chunk: Uint8Array, packets: number): boolean {
    return this.get(key).push(chunk, packets, this.#now());
  }

  /** A connection for `key` starts draining; call {@link release} when it ends. */
  attach(key: string): Outbox {
    const box = this.get(key);
    box.attach(this.#now());
    return box;
  }

  release(key: string, box: Outbox): void {
    box.detach(this.#now());
    if (this.#boxes.get(key) !== box) box.close();
  }

  /** Forgets outboxes with no connection that went unused for {@link OUTBOX_TIMEOUT_MS}. */
  sweep(): string[] {
    const now = this.#now();
    const gone: string[] = [];
    for (const [key, box] of this.#boxes) {
      if (!box.attached && now - box.lastUsed >= OUTBOX_TIMEOUT_MS) {
        this.#boxes.delete(key);
        this.#expiredDrops += box.drops;
        box.close();
        gone.push(key);
        this.#onExpire?.(key);
      }
    }
    return gone;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const box of this.#boxes.values()) box.close();
  }
}

/**
 * The PacketConn an in-thread KCP listener writes to: each packet is encapsulated into a
 * shared slab at once and queued in its client's outbox. Incoming packets do not pass
 * through it (the server hands them to the listener directly), so readFrom only waits for
 * close.
 */
export class OutboxPacketConn implements PacketConn {
  readonly localAddr: Addr;
  readonly outboxes: Outboxes;
  #slab = new Uint8Array(0);
  #pos = 0;
  #closed = false;
  #closeWaiters: ((e: Error) => void)[] = [];

  constructor(localAddr: Addr, outboxes = new Outboxes()) {
    this.localAddr = localAddr;
    this.outboxes = outboxes;
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    if (this.#closed) return Promise.reject(new ClosedError("outbox packet conn"));
    return new Promise((_, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      this.#closeWaiters.push(reject);
    });
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("outbox packet conn"));
    const need = data.length + 3;
    if (this.#slab.length - this.#pos < need) {
      this.#slab = new Uint8Array(Math.max(SLAB_BYTES, need));
      this.#pos = 0;
    }
    const start = this.#pos;
    const p = writeDataPrefix(this.#slab, start, data.length);
    this.#slab.set(data, start + p);
    this.#pos += p + data.length;
    this.outboxes.push(addr.toString(), this.#slab.subarray(start, this.#pos), 1);
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.outboxes.close();
    const e = new ClosedError("outbox packet conn");
    for (const w of this.#closeWaiters.splice(0)) w(e);
  }
}
