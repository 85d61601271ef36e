import { AsyncQueue, ClosedError } from "../net/mod.ts";
import type { Addr } from "../net/mod.ts";

// Spec constants (PROTOCOL.md §5).
/** A client's send queue is forgotten after this long without use. */
export const CLIENT_MAP_TIMEOUT_MS = 60_000;
/** Depth of every Turbo Tunnel packet queue; a full queue drops (KCP retransmits). */
export const QUEUE_SIZE = 512;

/** Options for {@link ClientMap}. */
export interface ClientMapOptions {
  /** Idle time after which an entry expires. Default {@link CLIENT_MAP_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Queue depth per client. Default {@link QUEUE_SIZE}. */
  queueSize?: number;
  /** Clock in ms. Default Date.now; inject a fake one in tests. */
  now?: () => number;
  /**
   * Run the expiry sweep every timeoutMs/2 on a timer. Default true; tests that drive
   * {@link ClientMap.sweep} by hand pass false.
   */
  autoSweep?: boolean;
}

interface Entry {
  queue: AsyncQueue<Uint8Array>;
  lastSeen: number;
}

/**
 * Per-client send queues keyed by `addr.toString()`, created on first use and expired after
 * `timeoutMs` without use. An expired queue is closed, so a writer waiting on it wakes with
 * {@link ClosedError} and can ask for the client's current queue again.
 */
export class ClientMap {
  #entries = new Map<string, Entry>();
  #timeoutMs: number;
  #queueSize: number;
  #now: () => number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(options: ClientMapOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? CLIENT_MAP_TIMEOUT_MS;
    this.#queueSize = options.queueSize ?? QUEUE_SIZE;
    this.#now = options.now ?? Date.now;
    if (!(this.#timeoutMs > 0)) throw new RangeError(`timeoutMs ${this.#timeoutMs} must be > 0`);
    if (options.autoSweep ?? true) {
      this.#timer = setInterval(() => this.sweep(), this.#timeoutMs / 2);
      Deno.unrefTimer(Number(this.#timer)); // never keeps a process alive on its own
    }
  }

  /** The send queue for `addr`, created if needed; marks the client as seen now. */
  sendQueue(addr: Addr): AsyncQueue<Uint8Array> {
    if (this.#closed) throw new ClosedError("client map");
    const key = addr.toString();
    let e = this.#entries.get(key);
    if (!e) {
      e = { queue: new AsyncQueue(this.#queueSize), lastSeen: 0 };
      this.#entries.set(key, e);
    }
    e.lastSeen = this.#now();
    return e.queue;
  }

  /** Number of live entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether `addr` has a live entry (does not touch it). */
  has(addr: Addr): boolean {
    return this.#entries.has(addr.toString());
  }

  /** Removes entries idle for at least timeoutMs and closes their queues. */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [key, e] of this.#entries) {
      if (now - e.lastSeen >= this.#timeoutMs) {
        this.#entries.delete(key);
        e.queue.close(new ClosedError("expired client queue"));
        removed++;
      }
    }
    return removed;
  }

  /** Stops the sweep timer and closes every queue. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const e of this.#entries.values()) e.queue.close(new ClosedError("client map"));
    this.#entries.clear();
  }
}
