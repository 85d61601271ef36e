/**
 * Seeded pseudo-random generators for fuzz and transfer tests, so a failure
 * replays from its seed. The generators return floats in [0, 1).
 *
 * @module
 */

function xorshiftWords(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** xorshift32. */
export function xorshift32(seed: number): () => number {
  const next = xorshiftWords(seed);
  return () => next() / 0x100000000;
}

/** mulberry32 (a better spread than xorshift32 over short runs of small seeds). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}

/** An integer in [0, n) drawn from `rand`. */
export function randomInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

/** `n` bytes drawn from `rand`. */
export function randomBytes(rand: () => number, n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rand() * 256;
  return b;
}

/** `n` deterministic pseudo-random bytes of `seed`, a word at a time: cheap for tens of MB. */
export function seededBytes(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >> 2);
  const next = xorshiftWords(seed);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < n; i++) out[i] = next();
  return out;
}
