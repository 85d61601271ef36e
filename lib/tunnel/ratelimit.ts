/**
 * Per-source token buckets for handshakes, in a bounded table: when full, the
 * oldest entry is forgotten (so a spoofed flood can cost memory only up to the
 * bound, and at worst refills someone's bucket early).
 *
 * @module
 */

import type { TunnelClock } from "./clock.ts";

interface Bucket {
  tokens: number;
  at: number;
}

export class TunnelRateLimiter {
  #perMs: number;
  #burst: number;
  #max: number;
  #clock: TunnelClock;
  #buckets = new Map<string, Bucket>();

  constructor(perSecond: number, burst: number, clock: TunnelClock, maxEntries = 4096) {
    if (!(perSecond > 0)) throw new RangeError(`rate ${perSecond}/s must be > 0`);
    if (!(burst >= 1)) throw new RangeError(`burst ${burst} must be ≥ 1`);
    if (!(maxEntries >= 1)) throw new RangeError(`rate-limit table size ${maxEntries} must be ≥ 1`);
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#max = maxEntries;
    this.#clock = clock;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** The tokens `key` has now (a full bucket for a key not seen), without taking one. */
  tokens(key: string): number {
    const b = this.#buckets.get(key);
    if (!b) return this.#burst;
    return Math.min(this.#burst, b.tokens + (this.#clock.now() - b.at) * this.#perMs);
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  allow(key: string): boolean {
    const now = this.#clock.now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.#max) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
