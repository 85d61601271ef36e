/**
 * The one per-ClientID send queue of Turbo Tunnel (the role of Go's ClientMap,
 * docs/PROTOCOL.md §5): packets KCP sends to a client wait here, already
 * encapsulated, until a carrier (a proxy connection of that client) takes them.
 *
 * - Several carriers of one ClientID may drain one queue at once (multipath); each batch
 *   goes to the carrier that has waited longest, so ready carriers take turns, and a burst
 *   queued while several wait is shared among them (packets are then not merged into one
 *   chunk), so that no one path gets a whole burst and delays it behind its own queue.
 * - Bounded in packets and bytes. While at least one carrier drains it, packets may be
 *   views into shared memory (a writer's slab, a Worker's batch). Once no carrier is left,
 *   what is queued is copied out of the shared memory (a view would pin a whole slab) and
 *   cut to {@link SendQueueLimits.idleBytes}: kept, as upstream keeps its queue, so a new
 *   proxy resumes with the newest packets at once; KCP retransmits the rest.
 * - With several carriers, a carrier whose proxy stopped delivering is passed over
 *   ({@link CarrierLedger}: its KCP data stays unacknowledged while data sent later through
 *   another was acknowledged), so that its batches go to the live ones rather than into a
 *   frozen proxy's TCP window.
 * - A queue without a carrier that went unused for {@link SendQueueLimits.timeoutMs} is
 *   forgotten (Go: clientMapTimeout). The clock is injected.
 *
 * @module
 */
import { ClosedError } from "../net/mod.ts";
import { CarrierLedger } from "./carrier_ledger.ts";

// Spec constants (docs/PROTOCOL.md §5).
/** A client's queue is forgotten after this long without use (Go: clientMapTimeout). */
export const CLIENT_MAP_TIMEOUT_MS = 60_000;
/** Queue depth in packets (Go: queueSize). */
export const QUEUE_SIZE = 512;

/** Bounds of one {@link SendQueue}. */
export interface SendQueueLimits {
  /** Packets queued at most. Default {@link QUEUE_SIZE}. */
  packets: number;
  /** Bytes queued at most while a carrier drains it. Default 1 MiB. */
  bytes: number;
  /**
   * Bytes kept while no carrier drains it (copied out of shared memory). Default 16 KiB:
   * ~11 full packets, enough to restart the flow on the next carrier (KCP resends the rest
   * at once), little enough that thousands of vanished clients cost little.
   */
  idleBytes: number;
  /** Forgotten after this long without a carrier and without use. Default 60 s. */
  timeoutMs: number;
}

export const DEFAULT_SEND_QUEUE_LIMITS: Readonly<SendQueueLimits> = Object.freeze({
  packets: QUEUE_SIZE,
  bytes: 1 << 20,
  idleBytes: 16 * 1024,
  timeoutMs: CLIENT_MAP_TIMEOUT_MS,
});

/** What one carrier takes from a queue: encapsulated packets to send as one message. */
export interface Batch {
  data: Uint8Array;
  packets: number;
}

interface Drainer {
  maxBytes: number;
  /** The carrier waiting, if it names itself (see {@link SendQueue.next}). */
  carrier: object | undefined;
  resolve(b: Batch): void;
  reject(e: unknown): void;
}

const EMPTY = new Uint8Array(0);

/** One client's queue of encapsulated bytes, in chunks of one or more packets. */
export class SendQueue {
  #limits: SendQueueLimits;
  #chunks: Uint8Array[] = [];
  #counts: number[] = [];
  #head = 0;
  #packets = 0;
  #bytes = 0;
  #carriers = 0;
  #drainers: Drainer[] = [];
  /** Carriers that named themselves; the ledger runs while there are several. */
  #named = new Set<object>();
  #ledger = new CarrierLedger();
  #dispatching = false;
  #closed = false;
  /** Last time a packet was queued or a carrier came or went (for expiry). */
  lastUsed: number;
  /** Packets dropped because this queue was full. */
  drops = 0;

  constructor(now: number, limits: SendQueueLimits = DEFAULT_SEND_QUEUE_LIMITS) {
    this.lastUsed = now;
    this.#limits = limits;
  }

  /** Carriers draining this queue now. */
  get carriers(): number {
    return this.#carriers;
  }

  /** Carriers waiting in {@link next}. */
  get waiting(): number {
    return this.#drainers.length;
  }

  get packets(): number {
    return this.#packets;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues `packets` encapsulated packets in `chunk`. With a carrier attached `chunk` may be
   * a view into shared memory; a chunk that continues the previous one in the same buffer
   * is merged with it. False (dropped and counted) when full or closed.
   */
  push(chunk: Uint8Array, packets: number, now: number): boolean {
    this.lastUsed = now;
    const attached = this.#carriers > 0;
    const maxBytes = attached ? this.#limits.bytes : this.#limits.idleBytes;
    // A Worker's batch may hold many packets: it is refused only once the queue is full.
    if (
      this.#closed || this.#packets >= this.#limits.packets ||
      (this.#bytes > 0 && this.#bytes + chunk.length > maxBytes)
    ) {
      this.drops += packets;
      return false;
    }
    const last = this.#chunks.length > this.#head ? this.#chunks[this.#chunks.length - 1]! : null;
    // With several carriers a chunk stays one packet, so that a burst can be split among them.
    if (
      this.#carriers === 1 && last !== null && last.buffer === chunk.buffer &&
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
    this.#scheduleDispatch();
    return true;
  }

  /**
   * Takes queued bytes for one message of at most about `maxBytes` (at least one chunk): a
   * chunk as it is, or several copied into one buffer. Undefined when empty.
   */
  take(maxBytes: number): Batch | undefined {
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

  /**
   * Waits for the next batch of at most about `maxBytes` for one carrier. Carriers waiting
   * at once are served in turn, oldest first. A carrier that names itself (`carrier`, any
   * object; call {@link forget} when it ends) is judged by the ledger while several do, and
   * passed over while stuck. Rejects with {@link ClosedError} on close or with the signal's
   * reason (an aborted carrier is forgotten at once).
   */
  next(maxBytes: number, signal?: AbortSignal, carrier?: object): Promise<Batch> {
    if (carrier !== undefined) this.#named.add(carrier);
    if (this.#drainers.length === 0 && !this.#stuck(carrier)) {
      const b = this.take(maxBytes);
      if (b) return Promise.resolve(this.#took(carrier, b));
    }
    if (this.#closed) return Promise.reject(new ClosedError("send queue"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#drainers.indexOf(d);
        if (i >= 0) this.#drainers.splice(i, 1);
        reject(signal!.reason);
      };
      const d: Drainer = {
        maxBytes,
        carrier,
        resolve: (b) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(b);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#drainers.push(d);
      this.#scheduleDispatch();
    });
  }

  /** Hands batches to waiting carriers after the current task, so a KCP flush is one batch. */
  #scheduleDispatch(): void {
    if (this.#dispatching || this.#drainers.length === 0 || this.#head >= this.#chunks.length) {
      return;
    }
    this.#dispatching = true;
    queueMicrotask(() => {
      this.#dispatching = false;
      const ready = this.#drainers.filter((d) => !this.#stuck(d.carrier));
      // A burst is shared among the carriers waiting for it rather than all sent down one.
      const ways = Math.min(ready.length, this.#chunks.length - this.#head);
      const share = Math.ceil(this.#bytes / Math.max(1, ways));
      for (const d of ready) {
        const b = this.take(Math.min(share, d.maxBytes));
        if (!b) break;
        this.#drainers.splice(this.#drainers.indexOf(d), 1);
        d.resolve(this.#took(d.carrier, b));
      }
    });
  }

  #stuck(carrier: object | undefined): boolean {
    return carrier !== undefined && this.#named.size > 1 &&
      this.#ledger.stuck(carrier, Date.now());
  }

  #took(carrier: object | undefined, b: Batch): Batch {
    if (carrier !== undefined && this.#named.size > 1) {
      this.#ledger.took(carrier, b.data, Date.now());
    }
    return b;
  }

  /**
   * A KCP packet from the client, for the acknowledgements in it (with several carriers:
   * a stuck one that the client acknowledged is served again).
   */
  acknowledged(packet: Uint8Array): void {
    if (this.#named.size < 2) return;
    this.#ledger.acknowledged(packet, Date.now());
    this.#scheduleDispatch();
  }

  /** A carrier that named itself to {@link next} ended (call before detaching it). */
  forget(carrier: object): void {
    if (!this.#named.delete(carrier)) return;
    this.#ledger.forget(carrier);
    this.#scheduleDispatch();
  }

  /** A carrier starts draining this queue. Returns the number of carriers now. */
  attach(now: number): number {
    this.lastUsed = now;
    return ++this.#carriers;
  }

  /**
   * A carrier stops draining it. With no carrier left, what is queued is copied out of
   * shared memory and cut to `idleBytes` (the oldest beyond it are dropped: the newest are
   * what the client misses most). Returns the number of carriers now.
   */
  detach(now: number): number {
    this.lastUsed = now;
    if (--this.#carriers > 0) return this.#carriers;
    const chunks: Uint8Array[] = [];
    const counts: number[] = [];
    let packets = 0;
    let bytes = 0;
    for (let i = this.#chunks.length - 1; i >= this.#head; i--) {
      const n = this.#counts[i]!;
      const len = this.#chunks[i]!.length;
      if (bytes + len > this.#limits.idleBytes) {
        this.drops += n;
        continue;
      }
      chunks.push(this.#chunks[i]!.slice());
      counts.push(n);
      packets += n;
      bytes += len;
    }
    this.#chunks = chunks.reverse();
    this.#counts = counts.reverse();
    this.#head = 0;
    this.#packets = packets;
    this.#bytes = bytes;
    return 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#chunks = [];
    this.#counts = [];
    this.#head = 0;
    this.#packets = this.#bytes = 0;
    const e = new ClosedError("send queue");
    for (const d of this.#drainers.splice(0)) d.reject(e);
  }
}

/** Options for {@link SendQueues}. */
export interface SendQueuesOptions {
  limits?: Partial<SendQueueLimits>;
  /** Clock in ms. Default Date.now; inject a fake one in tests. */
  now?: () => number;
  /** Sweep for expired queues on a timer (every timeoutMs/6). Default true. */
  autoSweep?: boolean;
  /**
   * Hears when a client's carrier count goes from 0 to 1 (`up`) or from 1 to 0 (down): the
   * server pauses and resumes that client's KCP sender with it.
   */
  onPath?: (key: string, up: boolean) => void;
  /** Hears of each queue the sweep forgets. */
  onExpire?: (key: string) => void;
}

/** The send queues of all clients of one KCP instance, keyed by ClientID (hex). */
export class SendQueues {
  #queues = new Map<string, SendQueue>();
  #limits: SendQueueLimits;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #now: () => number;
  #expiredDrops = 0;
  #opts: SendQueuesOptions;

  constructor(options: SendQueuesOptions = {}) {
    this.#opts = options;
    this.#limits = { ...DEFAULT_SEND_QUEUE_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    if (!(this.#limits.timeoutMs > 0)) {
      throw new RangeError(`timeoutMs ${this.#limits.timeoutMs} must be > 0`);
    }
    if (options.autoSweep ?? true) {
      this.#timer = setInterval(() => this.sweep(), this.#limits.timeoutMs / 6);
      Deno.unrefTimer(Number(this.#timer));
    }
  }

  get size(): number {
    return this.#queues.size;
  }

  /** Packets dropped because a queue was full, over all clients ever. */
  get drops(): number {
    let n = this.#expiredDrops;
    for (const q of this.#queues.values()) n += q.drops;
    return n;
  }

  /** Bytes queued over all clients. */
  get bytes(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.bytes;
    return n;
  }

  /** The queue of `key`, created on first use. */
  get(key: string): SendQueue {
    let q = this.#queues.get(key);
    if (q === undefined) {
      q = new SendQueue(this.#now(), this.#limits);
      if (this.#closed) q.close();
      this.#queues.set(key, q);
    }
    return q;
  }

  /** Whether `key` has a live queue (does not create one). */
  has(key: string): boolean {
    return this.#queues.has(key);
  }

  /** Queues encapsulated packets for `key` (see {@link SendQueue.push}). */
  push(key: string, chunk: Uint8Array, packets: number): boolean {
    return this.get(key).push(chunk, packets, this.#now());
  }

  /** A carrier of `key` starts draining; call {@link release} with the queue when it ends. */
  attach(key: string): SendQueue {
    const q = this.get(key);
    if (q.attach(this.#now()) === 1) this.#opts.onPath?.(key, true);
    return q;
  }

  release(key: string, q: SendQueue): void {
    const left = q.detach(this.#now());
    const current = this.#queues.get(key) === q;
    if (!current) q.close();
    else if (left === 0) this.#opts.onPath?.(key, false);
  }

  /** Forgets queues without a carrier that went unused for `timeoutMs`. Returns their keys. */
  sweep(): string[] {
    const now = this.#now();
    const gone: string[] = [];
    for (const [key, q] of this.#queues) {
      if (q.carriers === 0 && now - q.lastUsed >= this.#limits.timeoutMs) {
        this.#queues.delete(key);
        this.#expiredDrops += q.drops;
        q.close();
        gone.push(key);
        this.#opts.onExpire?.(key);
      }
    }
    return gone;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const q of this.#queues.values()) q.close();
  }
}
