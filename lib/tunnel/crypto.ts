/**
 * Hash, MAC and KDF primitives of the handshake (SHA-256 family), and the
 * handshake AEAD built on the data cipher. Synchronous: libsodium through FFI
 * when it loads (about 8× faster per call here), node:crypto otherwise.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";
import type { TunnelCipher } from "./cipher.ts";
import { trySodium } from "./sodium.ts";
import { concatBytes } from "../net/bytes.ts";

const sodium = trySodium();
const hmacState = sodium
  ? new Uint8Array(Number(sodium.crypto_auth_hmacsha256_statebytes()))
  : new Uint8Array(0);

const EMPTY = new Uint8Array(0);
const ZERO_NONCE = new Uint8Array(24);

function u8(b: { buffer: ArrayBufferLike; byteOffset: number; length: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** SHA-256 of the concatenation of the parts. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (sodium) {
    const input = parts.length === 1 ? parts[0]! : concatBytes(parts);
    const out = new Uint8Array(32);
    sodium.crypto_hash_sha256(out, input, BigInt(input.length));
    return out;
  }
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return u8(h.digest());
}

/** HMAC-SHA256(key, concatenation of the parts). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  if (sodium) {
    const out = new Uint8Array(32);
    sodium.crypto_auth_hmacsha256_init(hmacState, key, BigInt(key.length));
    for (const p of parts) sodium.crypto_auth_hmacsha256_update(hmacState, p, BigInt(p.length));
    sodium.crypto_auth_hmacsha256_final(hmacState, out);
    return out;
  }
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return u8(h.digest());
}

/**
 * HKDF-SHA256 (RFC 5869) with salt = chaining key, empty info, returning `n`
 * 32-byte outputs: the first is the next chaining key.
 */
export function hkdf(chainingKey: Uint8Array, input: Uint8Array, n: 1 | 2 | 3): Uint8Array[] {
  const prk = hmac(chainingKey, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = EMPTY;
  for (let i = 1; i <= n; i++) {
    prev = hmac(prk, prev, Uint8Array.of(i));
    out.push(prev);
  }
  return out;
}

/**
 * The handshake AEAD: XSalsa20-Poly1305 under HMAC(key, ad) with a zero nonce.
 * Secretbox has no associated data, so the transcript hash is bound by deriving
 * the box key from it; every handshake key seals exactly one message.
 */
export function aeadSeal(
  cipher: TunnelCipher,
  key: Uint8Array,
  ad: Uint8Array,
  plain: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plain.length + 16);
  cipher.seal(out, plain, ZERO_NONCE, hmac(key, ad));
  return out;
}

/** Opens an {@link aeadSeal} box; null when it does not verify. */
export function aeadOpen(
  cipher: TunnelCipher,
  key: Uint8Array,
  ad: Uint8Array,
  boxed: Uint8Array,
): Uint8Array | null {
  if (boxed.length < 16) return null;
  const out = new Uint8Array(boxed.length - 16);
  return cipher.open(out, boxed, ZERO_NONCE, hmac(key, ad)) ? out : null;
}

/** Constant-time equality of two byte strings of equal length (false if lengths differ). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
