/**
 * `NextPoll`: how long the broker asks proxies to wait before their next poll. With more
 * proxies waiting than clients arriving, polls are spread out (less load on the broker and
 * on volunteers); when clients outnumber waiting proxies, proxies come back at the base
 * interval. The value is base × waiting proxies ÷ client polls in the last minute, clamped
 * to [base, max]. Proxies that ignore `NextPoll` (Go's 2.5.1) keep their own interval.
 *
 * @module
 */

export interface PollPacerOptions {
  /** The shortest interval asked for, ms. Default 5 s (Go's standalone proxy's own). */
  baseMs?: number;
  /** The longest interval asked for, ms. Default 60 s. */
  maxMs?: number;
  now?: () => number;
}

const WINDOW_S = 60;

export class PollPacer {
  readonly baseMs: number;
  readonly maxMs: number;
  #now: () => number;
  /** Client polls per second over the last minute, a ring indexed by the second. */
  #buckets = new Uint32Array(WINDOW_S);
  #bucketSecond = new Float64Array(WINDOW_S);

  constructor(options: PollPacerOptions = {}) {
    this.baseMs = options.baseMs ?? 5_000;
    this.maxMs = Math.max(this.baseMs, options.maxMs ?? 60_000);
    this.#now = options.now ?? Date.now;
  }

  clientPoll(): void {
    const second = Math.floor(this.#now() / 1000);
    const i = second % WINDOW_S;
    if (this.#bucketSecond[i] !== second) {
      this.#bucketSecond[i] = second;
      this.#buckets[i] = 0;
    }
    this.#buckets[i]!++;
  }

  /** Client polls in the last minute. */
  clientPollsPerMinute(): number {
    const second = Math.floor(this.#now() / 1000);
    let n = 0;
    for (let i = 0; i < WINDOW_S; i++) {
      if (second - this.#bucketSecond[i]! < WINDOW_S) n += this.#buckets[i]!;
    }
    return n;
  }

  /** The `NextPoll` (ms) to send while `waiting` proxies wait. */
  nextPoll(waiting: number): number {
    const demand = Math.max(1, this.clientPollsPerMinute());
    return Math.round(Math.min(this.maxMs, Math.max(this.baseMs, this.baseMs * waiting / demand)));
  }
}
