/**
 * Sliding replay window (RFC 6479 style): a ring of 32-bit words; accepts each
 * counter once and rejects counters older than the window.
 *
 * @module
 */

export class ReplayWindow {
  #bits: Uint32Array;
  #words: number;
  #top = -1n;
  readonly size: number;

  /** `size` is the number of packets behind the highest one still accepted (e.g. 8128). */
  constructor(size = 8128) {
    if (!Number.isInteger(size) || size < 32 || size > 1 << 24) {
      throw new RangeError(`replay window ${size} must be 32 to 16777216 packets`);
    }
    // One spare word so the word being refilled never overlaps the window.
    this.#words = Math.ceil(size / 32) + 1;
    this.#bits = new Uint32Array(this.#words);
    this.size = size;
  }

  /** Records `counter` and returns true if it is new and inside the window. */
  accept(counter: bigint): boolean {
    if (counter < 0n) return false;
    if (counter > this.#top) {
      const curWord = this.#top < 0n ? -1n : this.#top >> 5n;
      const newWord = counter >> 5n;
      const clear = newWord - curWord;
      const n = clear > BigInt(this.#words) ? this.#words : Number(clear);
      for (let i = 1; i <= n; i++) {
        this.#bits[Number((curWord + BigInt(i)) % BigInt(this.#words))] = 0;
      }
      this.#top = counter;
    } else if (this.#top - counter >= BigInt(this.size)) {
      return false;
    }
    const word = Number((counter >> 5n) % BigInt(this.#words));
    const bit = 1 << Number(counter & 31n);
    if (this.#bits[word]! & bit) return false;
    this.#bits[word]! |= bit;
    return true;
  }
}
