/**
 * A full garbage collection once dead ArrayBuffers pile up outside the heap.
 *
 * KCP keeps one copy of each write until every segment of it is acknowledged: long enough,
 * with a 1 MiB young generation, to be promoted to the old one. Such buffers are freed only by
 * a full collection, which V8 starts only once some 64 MiB of them have piled up: one busy
 * session's peak RSS was ~80 MiB in most runs and ~130 in the others (tests/bench/server_bench.ts
 * `throughput`). Looking at V8's external memory every {@link CHECK_EVERY_BYTES} forwarded bytes
 * and collecting once it has grown by {@link EXTERNAL_GROWTH} since the last collection (or by
 * the live heap's size, so that a big heap is not collected more often than V8 would) bounds it.
 * Needs `--expose-gc` (tools/permissions.ts); without it this does nothing.
 *
 * @module
 */

// Implementation constants.
/** Forwarded bytes between two looks at external memory (a look costs a few µs). */
export const CHECK_EVERY_BYTES = 1024 * 1024;
/** External memory growth since the last collection that starts the next one. */
export const EXTERNAL_GROWTH = 8 * 1024 * 1024;

export class ExternalGc {
  #bytes = 0;
  /** External memory after the last collection; undefined until the next look shows it. */
  #after: number | undefined = 0;
  #gc: (() => void) | undefined;

  constructor() {
    this.#gc = (globalThis as { gc?: () => void }).gc;
  }

  /** Counts `n` forwarded bytes; collects when external memory has grown enough. */
  forwarded(n: number): void {
    if (this.#gc === undefined || (this.#bytes += n) < CHECK_EVERY_BYTES) return;
    this.#bytes = 0;
    const m = Deno.memoryUsage();
    // A collection's dead buffers are swept concurrently: what remains shows only later.
    if (this.#after === undefined) {
      this.#after = m.external;
      return;
    }
    if (m.external - this.#after < Math.max(EXTERNAL_GROWTH, m.heapUsed)) return;
    this.#gc();
    this.#after = undefined;
  }
}

/** This isolate's (each Worker has its own heap). */
export const externalGc = new ExternalGc();
