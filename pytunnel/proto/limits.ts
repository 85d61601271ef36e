/**
 * Stateless cookies (HMAC-SHA256 over source IP:port and a coarse timestamp,
 * with a secret that rotates every two minutes) and a per-source token bucket.
 *
 * @module
 */

import { equal, hmac } from "./crypto.ts";

const SLOT_MS = 30_000;
const ROTATE_MS = 120_000;
const enc = new TextEncoder();

/** Makes and checks cookies; no per-client state. */
export class CookieJar {
  #cur = crypto.getRandomValues(new Uint8Array(32));
  #prev = crypto.getRandomValues(new Uint8Array(32));
  #rotatedAt: number;
  constructor(private now: () => number = Date.now) {
    this.#rotatedAt = now();
  }
  #rotate(): void {
    const t = this.now();
    if (t - this.#rotatedAt >= ROTATE_MS) {
      this.#prev = this.#cur;
      this.#cur = crypto.getRandomValues(new Uint8Array(32));
      this.#rotatedAt = t;
    }
  }
  #mac(secret: Uint8Array, source: string, slot: number): Uint8Array {
    return hmac(secret, enc.encode(`${source}|${slot}`)).subarray(0, 16);
  }
  /** The cookie for a source `ip:port` now. */
  make(source: string): Uint8Array {
    this.#rotate();
    return this.#mac(this.#cur, source, Math.floor(this.now() / SLOT_MS));
  }
  /** True when `cookie` was made for `source` within the last slot or two. */
  check(source: string, cookie: Uint8Array): boolean {
    this.#rotate();
    const slot = Math.floor(this.now() / SLOT_MS);
    for (const secret of [this.#cur, this.#prev]) {
      for (const s of [slot, slot - 1]) {
        if (equal(this.#mac(secret, source, s), cookie)) return true;
      }
    }
    return false;
  }
}

/** Token buckets keyed by source IP. */
export class RateLimiter {
  #buckets = new Map<string, { tokens: number; at: number }>();
  #lastSweep = 0;
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private now: () => number = Date.now,
  ) {}
  /** Takes one token for `key`; false when the source is over its rate. */
  allow(key: string): boolean {
    const t = this.now();
    if (t - this.#lastSweep > 10_000) {
      for (const [k, b] of this.#buckets) if (t - b.at > 10_000) this.#buckets.delete(k);
      this.#lastSweep = t;
    }
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
