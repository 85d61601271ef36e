/**
 * The standalone mode's session opened ahead of the SOCKS connection that will use it
 * (docs/client.md "Latency: SOCKS connect to first byte"). One is opened at startup for the
 * first connection. With `refill` (`--spare-session`), taking it opens the next one, so every
 * connection finds its proxy already connected; at most one is held ahead, and one left
 * unused for `idleMs` is closed (each holds a volunteer's proxy slot) until the next
 * connection takes nothing and asks again.
 *
 * @module
 */
import { globalTimers, type Timers } from "../lib/snowflake/webrtc.ts";

/** What is held ahead: something that can be closed. */
export interface Closable {
  close(): void;
}

/** Options for {@link SpareSession}. */
export interface SpareSessionOptions<S extends Closable> {
  /** Opens a session (rejects when it cannot). */
  open: () => Promise<S>;
  /** Open the next one whenever one is taken (and when a connection found none). */
  refill: boolean;
  /** An unused session is closed after this long. Default {@link SPARE_IDLE_MS}. */
  idleMs?: number;
  signal: AbortSignal;
  log?: (message: string) => void;
  timers?: Timers;
}

/** How long a refilled spare may wait unused before its proxy is given back. */
export const SPARE_IDLE_MS = 5 * 60_000;

/** Holds at most one session opened ahead. */
export class SpareSession<S extends Closable> {
  #options: SpareSessionOptions<S>;
  #timers: Timers;
  #pending: Promise<S> | null = null;
  #idle: unknown;
  #first = true;

  constructor(options: SpareSessionOptions<S>) {
    this.#options = options;
    this.#timers = options.timers ?? globalTimers;
    options.signal.addEventListener("abort", () => this.#drop(), { once: true });
    this.#fill();
  }

  /** Whether a session is held ahead. */
  get held(): boolean {
    return this.#pending !== null;
  }

  /**
   * The session held ahead, or null when there is none (then, with `refill`, the next one
   * is opened for the connection after this one).
   */
  take(): Promise<S> | null {
    const p = this.#pending;
    this.#pending = null;
    this.#timers.clearTimeout(this.#idle);
    if (this.#options.refill) this.#fill();
    return p;
  }

  #fill(): void {
    if (this.#pending || this.#options.signal.aborted) return;
    let p: Promise<S>;
    try {
      p = this.#options.open();
    } catch (e) {
      this.#options.log?.(`not opened ahead: ${(e as Error).message}`);
      return;
    }
    p.catch(() => {});
    this.#pending = p;
    // The startup session waits as long as it takes (the first connection is expected);
    // refilled ones give their proxy back when unused.
    if (!this.#first) {
      this.#idle = this.#timers.setTimeout(() => {
        this.#options.log?.("spare session unused; closing it");
        this.#drop();
      }, this.#options.idleMs ?? SPARE_IDLE_MS);
    }
    this.#first = false;
  }

  #drop(): void {
    this.#timers.clearTimeout(this.#idle);
    const p = this.#pending;
    this.#pending = null;
    p?.then((s) => s.close(), () => {});
  }
}
