/**
 * Sliding-window replay filter (RFC 6479 style, as WireGuard): a ring of
 * 32-bit blocks; moving the window forward clears whole blocks, so each check
 * is O(1) amortised. Accepts a counter once, if it is within `windowSize` of the
 * highest counter accepted so far.
 *
 * @module
 */

/** WireGuard's window: an 8192-bit ring minus one 64-bit word. */
export const TUNNEL_REPLAY_WINDOW = 8128;

export class TunnelReplayWindow {
  readonly windowSize: number;
  #blocks: Uint32Array;
  #mask: number;
  #last = 0;
  #limit: number;

  /** `limit`: counters at or above it are rejected (the sender must have rekeyed). */
  constructor(windowSize = TUNNEL_REPLAY_WINDOW, limit = Number.MAX_SAFE_INTEGER) {
    if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize > 1 << 24) {
      throw new RangeError(`replay window ${windowSize} must be an integer in [1, 2^24]`);
    }
    this.windowSize = windowSize;
    let n = 1;
    while ((n - 1) * 32 < windowSize) n <<= 1;
    this.#blocks = new Uint32Array(n);
    this.#mask = n - 1;
    this.#limit = limit;
  }

  /** Accepts and records `counter`, or returns false for a duplicate or a too old one. */
  check(counter: number): boolean {
    if (!(counter >= 0 && counter < this.#limit)) return false;
    const block = Math.floor(counter / 32);
    if (counter > this.#last) {
      const current = Math.floor(this.#last / 32);
      const diff = Math.min(block - current, this.#blocks.length);
      for (let i = 1; i <= diff; i++) this.#blocks[(current + i) & this.#mask] = 0;
      this.#last = counter;
    } else if (this.#last - counter > this.windowSize) {
      return false;
    }
    const i = block & this.#mask;
    const bit = 1 << (counter & 31);
    const word = this.#blocks[i]!;
    if (word & bit) return false;
    this.#blocks[i] = word | bit;
    return true;
  }
}
