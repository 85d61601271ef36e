/**
 * Crypto primitives of pytunnel's fallback core: XSalsa20-Poly1305 through FFI
 * to Debian's libsodium23 (the fastest of those measured, TOOLCHAIN.md), X25519,
 * HKDF-SHA256 and HMAC-SHA256 from node:crypto (synchronous).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from "node:crypto";

const SYMBOLS = {
  sodium_init: { parameters: [], result: "i32" },
  crypto_secretbox_easy: {
    parameters: ["buffer", "buffer", "u64", "buffer", "buffer"],
    result: "i32",
  },
  crypto_secretbox_open_easy: {
    parameters: ["buffer", "buffer", "u64", "buffer", "buffer"],
    result: "i32",
  },
} as const;

let sodium: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;
function lib() {
  if (!sodium) {
    try {
      sodium = Deno.dlopen("libsodium.so.23", SYMBOLS).symbols;
    } catch (e) {
      throw new Error(
        `cannot load libsodium.so.23 (apt-get install libsodium23): ${(e as Error).message}`,
      );
    }
    if (sodium.sodium_init() < 0) throw new Error("sodium_init failed");
  }
  return sodium;
}

/** Poly1305 tag length. */
export const TAG = 16;

/** Seals `plain` into `out` (length plain.length + 16): tag then ciphertext. */
export function seal(out: Uint8Array, plain: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
  lib().crypto_secretbox_easy(out, plain, BigInt(plain.length), nonce, key);
}

/** Opens `boxed` into `out` (length boxed.length − 16); false when the tag does not verify. */
export function open(
  out: Uint8Array,
  boxed: Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
): boolean {
  if (boxed.length < TAG) return false;
  return lib().crypto_secretbox_open_easy(out, boxed, BigInt(boxed.length), nonce, key) === 0;
}

const PKCS8 = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);
const SPKI = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00);

function concat(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.concat([a, b]);
}

/** An X25519 private key with its public half. */
export class StaticKey {
  readonly private: KeyObject;
  readonly publicKey: Uint8Array;
  constructor(priv: Uint8Array) {
    if (priv.length !== 32) {
      throw new RangeError(`X25519 private key must be 32 bytes, got ${priv.length}`);
    }
    this.private = createPrivateKey({ key: concat(PKCS8, priv), format: "der", type: "pkcs8" });
    const spki = createPublicKey(this.private).export({ format: "der", type: "spki" });
    this.publicKey = new Uint8Array(spki).slice(-32);
  }
  /** A fresh random key (ephemeral). */
  static random(): StaticKey {
    return new StaticKey(crypto.getRandomValues(new Uint8Array(32)));
  }
  /** X25519(this, peer public key); throws on a low-order point. */
  dh(peer: Uint8Array): Uint8Array {
    const pub = createPublicKey({ key: concat(SPKI, peer), format: "der", type: "spki" });
    return new Uint8Array(diffieHellman({ privateKey: this.private, publicKey: pub }));
  }
}

/** HKDF-SHA256 of `ikm` salted with the chaining key; returns `n` 32-byte outputs. */
export function kdf(chain: Uint8Array, ikm: Uint8Array, info: string, n: number): Uint8Array[] {
  const out = new Uint8Array(hkdfSync("sha256", ikm, chain, info, 32 * n));
  return Array.from({ length: n }, (_, i) => out.slice(32 * i, 32 * i + 32));
}

/** HMAC-SHA256(key, ...parts). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Constant-time comparison. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
