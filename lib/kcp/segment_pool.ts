/**
 * Send-segment buffers reused across the KCP sessions of one thread.
 *
 * A segment's data waits in KCP until the peer acknowledges it: long enough for a buffer of
 * its own to be promoted to V8's old generation, whose dead ArrayBuffers are freed only by a
 * full collection, which V8 starts late (see docs/ARCHITECTURE.md, "Server memory"). Reusing
 * buffers keeps that memory at the data in flight. Output copies a segment into a packet of
 * its own (lib/kcp/engine.ts `#emit`), so a buffer is referenced by nothing once KCP drops it.
 *
 * @module
 */

// Implementation constants.
/** Buffers carved out of one ArrayBuffer when the pool is empty. */
const BUFFERS_PER_CHUNK = 64;
/** Free bytes kept for reuse; buffers given back beyond this are left to the GC. */
const MAX_FREE_BYTES = 8 * 1024 * 1024;

export class SegmentPool {
  #free = new Map<number, Uint8Array[]>();
  #freeBytes = 0;

  constructor(readonly maxFreeBytes = MAX_FREE_BYTES) {}

  /** Bytes in free buffers. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** A buffer of `size` bytes with unspecified contents. */
  take(size: number): Uint8Array {
    const list = this.#free.get(size);
    const buf = list?.pop();
    if (buf !== undefined) {
      this.#freeBytes -= size;
      return buf;
    }
    const chunk = new Uint8Array(size * BUFFERS_PER_CHUNK);
    const rest = list ?? [];
    for (let i = 1; i < BUFFERS_PER_CHUNK && this.#freeBytes + size <= this.maxFreeBytes; i++) {
      rest.push(chunk.subarray(i * size, (i + 1) * size));
      this.#freeBytes += size;
    }
    this.#free.set(size, rest);
    return chunk.subarray(0, size);
  }

  /** Gives back a buffer from {@link take}; the caller must hold no reference to it. */
  give(buf: Uint8Array): void {
    const size = buf.length;
    if (size === 0 || this.#freeBytes + size > this.maxFreeBytes) return;
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, list = []);
    list.push(buf);
    this.#freeBytes += size;
  }
}

/** The pool shared by this thread's KCP engines (each Worker has its own). */
export const segmentPool: SegmentPool = new SegmentPool();
