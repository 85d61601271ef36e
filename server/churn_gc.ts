/**
 * A full garbage collection after every so many closed connections or sessions.
 *
 * V8 lets the old generation grow for a long while before collecting it, so under churn
 * (thousands of clients coming and going) RSS climbs with garbage and only comes down when
 * the server goes quiet. Collecting once per {@link CHURN_GC_EVERY} closes bounds it at no
 * cost while clients stay (tests/bench/server_bench.ts `cycles`). Needs the runtime flag
 * `--expose-gc` (tools/permissions.ts); without it this does nothing.
 *
 * @module
 */

// Implementation constants.
/** Closes between two collections. */
export const CHURN_GC_EVERY = 1000;

export class ChurnGc {
  #closes = 0;
  #every: number;
  #gc: (() => void) | undefined;

  constructor(every = CHURN_GC_EVERY) {
    this.#every = every;
    this.#gc = (globalThis as { gc?: () => void }).gc;
  }

  /** Counts one close; collects when the count reaches the threshold. */
  closed(): void {
    if (this.#gc === undefined || ++this.#closes < this.#every) return;
    this.#closes = 0;
    setTimeout(this.#gc, 0);
  }
}
