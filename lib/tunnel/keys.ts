/**
 * X25519 keys: generation, public-from-private, Diffie-Hellman and the
 * WireGuard-style base64 text form (32 raw bytes, standard base64 with padding).
 *
 * Synchronous, so the handshake runs without promise chains: libsodium through
 * FFI when it loads, node:crypto otherwise.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { trySodium } from "./sodium.ts";

const sodium = trySodium();

/** Length of an X25519 key, private or public. */
export const TUNNEL_KEY_SIZE = 32;

// DER prefixes of an X25519 PKCS#8 private key and SPKI public key; the raw 32 bytes follow.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (key.length !== TUNNEL_KEY_SIZE) {
    throw new RangeError(`${what} must be ${TUNNEL_KEY_SIZE} bytes, got ${key.length}`);
  }
}

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  const b = Buffer.alloc(prefix.length + TUNNEL_KEY_SIZE);
  b.set(prefix);
  b.set(key, prefix.length);
  return b;
}

function privateKeyObject(priv: Uint8Array): KeyObject {
  checkKey(priv, "private key");
  return createPrivateKey({ key: der(PKCS8_PREFIX, priv), format: "der", type: "pkcs8" });
}

function publicKeyObject(pub: Uint8Array): KeyObject {
  checkKey(pub, "public key");
  return createPublicKey({ key: der(SPKI_PREFIX, pub), format: "der", type: "spki" });
}

function rawPublic(k: KeyObject): Uint8Array {
  const spki = k.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - TUNNEL_KEY_SIZE));
}

/** A new random X25519 private key (32 bytes, clamped as `wg genkey` does). */
export function generateTunnelPrivateKey(): Uint8Array {
  const k = crypto.getRandomValues(new Uint8Array(TUNNEL_KEY_SIZE));
  k[0]! &= 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

/** The X25519 public key of a 32-byte private key. */
export function tunnelPublicKey(priv: Uint8Array): Uint8Array {
  checkKey(priv, "private key");
  if (sodium) {
    const out = new Uint8Array(TUNNEL_KEY_SIZE);
    sodium.crypto_scalarmult_base(out, priv);
    return out;
  }
  return rawPublic(createPublicKey(privateKeyObject(priv)));
}

/** A static or ephemeral key pair. */
export class TunnelKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  #object: KeyObject | undefined;

  constructor(privateKey: Uint8Array) {
    this.publicKey = tunnelPublicKey(privateKey);
    this.privateKey = privateKey.slice();
  }

  /** A fresh random pair. */
  static generate(): TunnelKeyPair {
    return new TunnelKeyPair(generateTunnelPrivateKey());
  }

  /**
   * X25519(private, peer). Null for a malformed peer key or one that yields the
   * all-zero shared secret (low-order points), which must never authenticate anything.
   */
  dh(peer: Uint8Array): Uint8Array | null {
    if (!(peer instanceof Uint8Array) || peer.length !== TUNNEL_KEY_SIZE) return null;
    let out: Uint8Array;
    if (sodium) {
      out = new Uint8Array(TUNNEL_KEY_SIZE);
      // libsodium returns -1 for an all-zero result.
      if (sodium.crypto_scalarmult(out, this.privateKey, peer) !== 0) return null;
    } else {
      try {
        this.#object ??= privateKeyObject(this.privateKey);
        const b = diffieHellman({ privateKey: this.#object, publicKey: publicKeyObject(peer) });
        out = new Uint8Array(b.buffer, b.byteOffset, b.length);
      } catch {
        return null;
      }
    }
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc |= out[i]!;
    return acc === 0 ? null : out;
  }
}

/** Standard base64 (with padding) of a 32-byte key, as wg(8) prints it. */
export function encodeTunnelKey(key: Uint8Array): string {
  checkKey(key, "key");
  return Buffer.from(key).toString("base64");
}

/** Parses a base64 key; SyntaxError for bad characters, RangeError unless it is 32 bytes. */
export function decodeTunnelKey(text: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError("key must be a base64 string");
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(t)) {
    if (/^[A-Za-z0-9+/]*={0,2}$/.test(t) && t.length % 4 === 0) {
      throw new RangeError(`key "${t}" must encode ${TUNNEL_KEY_SIZE} bytes`);
    }
    throw new SyntaxError(`key "${t}" is not standard base64`);
  }
  const key = new Uint8Array(Buffer.from(t, "base64"));
  if (key.length !== TUNNEL_KEY_SIZE) {
    throw new RangeError(`key "${t}" must encode ${TUNNEL_KEY_SIZE} bytes, got ${key.length}`);
  }
  return key;
}
