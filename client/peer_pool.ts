/**
 * The proxies of one session (the Go client's `Peers`/`connectLoop`): keeps up to `max`
 * live peers connected; the packet layer takes them with {@link PeerPool.pop}. Unlike Go,
 * which collects once every 10 s, a replacement is rendezvoused as soon as a peer closes
 * (failed attempts back off, 1 s doubling to 10 s), which is what keeps the stall short
 * when the proxy in use dies. Today one popped peer carries the session at a time
 * (RedialPacketConn); a striping packet conn can pop all of them instead (docs/client.md).
 *
 * @module
 */
import { AsyncQueue, ClosedError } from "../lib/net/mod.ts";

/** What the pool needs of a peer. */
export interface PoolPeer {
  readonly id: string;
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
  close(): void;
}

/** Options for {@link PeerPool}. */
export interface PeerPoolOptions {
  /** Peers to keep connected. */
  max: number;
  /** First delay after a failed dial; doubles up to {@link maxBackoffMs}. Default 1000. */
  backoffMs?: number;
  /** Default 10000 (Go's collection period). */
  maxBackoffMs?: number;
  log?: (message: string) => void;
}

/** Keeps `max` peers connected and hands them out. */
export class PeerPool<P extends PoolPeer> {
  #dial: (signal: AbortSignal) => Promise<P>;
  #max: number;
  #live = new Set<P>();
  #idle = new AsyncQueue<P>();
  #dialing = 0;
  #abort = new AbortController();
  #backoff: number;
  #nextDialAt = 0;
  #options: PeerPoolOptions;
  /** Peers connected so far, and dial attempts that failed. */
  connected = 0;
  failures = 0;
  /** When a peer was last handed out to carry the session (Date.now()); 0 before the first. */
  handedOutAt = 0;

  constructor(dial: (signal: AbortSignal) => Promise<P>, options: PeerPoolOptions) {
    this.#dial = dial;
    this.#max = Math.max(1, options.max);
    this.#options = options;
    this.#backoff = options.backoffMs ?? 1000;
    this.#fill();
  }

  /** Peers connected and not closed (in use or idle). */
  get live(): number {
    return this.#live.size;
  }

  /** The live peers. */
  peers(): P[] {
    return [...this.#live];
  }

  /** Waits for an idle live peer and takes it. Rejects once the pool is closed. */
  async pop(signal?: AbortSignal): Promise<P> {
    for (;;) {
      const p = await this.#idle.shift(signal);
      if (p.isClosed) continue;
      this.handedOutAt = Date.now();
      return p;
    }
  }

  #fill(): void {
    const signal = this.#abort.signal;
    while (!signal.aborted && this.#live.size + this.#dialing < this.#max) {
      this.#dialing++;
      this.#dialOne(signal);
    }
  }

  async #dialOne(signal: AbortSignal): Promise<void> {
    let peer: P | null = null;
    try {
      const wait = this.#nextDialAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!signal.aborted) peer = await this.#dial(signal);
    } catch (e) {
      if (!signal.aborted) {
        this.failures++;
        this.#log(`collecting a proxy failed: ${(e as Error).message}; retrying`);
        this.#nextDialAt = Date.now() + this.#backoff;
        this.#backoff = Math.min(this.#backoff * 2, this.#options.maxBackoffMs ?? 10_000);
      }
    } finally {
      this.#dialing--;
    }
    if (signal.aborted) {
      peer?.close();
      return;
    }
    if (!peer) return this.#fill();
    this.#backoff = this.#options.backoffMs ?? 1000;
    this.#nextDialAt = 0;
    this.#adopt(peer, signal);
    this.#idle.push(peer);
  }

  /**
   * Dials one peer beyond `max` at once and hands it over (not queued as idle): the spare a
   * multipath session collects when all its proxies went silent (docs/client.md "Multipath").
   * Its close, like any other, brings a replacement only while fewer than `max` are live.
   */
  async spare(signal: AbortSignal): Promise<P> {
    const pool = this.#abort.signal;
    let peer: P;
    try {
      peer = await this.#dial(AbortSignal.any([pool, signal]));
    } catch (e) {
      if (!pool.aborted && !signal.aborted) this.failures++;
      throw e;
    }
    if (pool.aborted || signal.aborted) {
      peer.close();
      throw new ClosedError("peer pool");
    }
    this.#adopt(peer, pool);
    this.handedOutAt = Date.now();
    return peer;
  }

  #adopt(peer: P, signal: AbortSignal): void {
    this.connected++;
    this.#live.add(peer);
    this.#log(`proxy ${peer.id} connected [${this.#live.size}/${this.#max}]`);
    peer.closed.then(() => {
      this.#live.delete(peer);
      if (signal.aborted) return;
      const more = this.#live.size < this.#max ? "; collecting another" : "";
      this.#log(`proxy ${peer.id} closed [${this.#live.size}/${this.#max}]${more}`);
      this.#fill();
    });
  }

  #log(m: string): void {
    this.#options.log?.(m);
  }

  /** Stops collecting and closes every peer. */
  close(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(new ClosedError("peer pool"));
    this.#idle.close(new ClosedError("peer pool"));
    for (const p of this.#live) p.close();
    this.#live.clear();
  }
}
