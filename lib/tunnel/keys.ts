/**
 * X25519 keys: generation, public-from-private, Diffie-Hellman and the
 * WireGuard-style base64 text form (32 raw bytes, standard base64 with padding).
 *
 * Synchronous (node:crypto) so the handshake runs without promise chains.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";

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

/** A private key as node:crypto KeyObject (throws RangeError on a wrong length). */
export function privateKeyObject(priv: Uint8Array): KeyObject {
  checkKey(priv, "private key");
  return createPrivateKey({ key: der(PKCS8_PREFIX, priv), format: "der", type: "pkcs8" });
}

/** A public key as node:crypto KeyObject (throws RangeError on a wrong length). */
export function publicKeyObject(pub: Uint8Array): KeyObject {
  checkKey(pub, "public key");
  return createPublicKey({ key: der(SPKI_PREFIX, pub), format: "der", type: "spki" });
}

function rawPublic(k: KeyObject): Uint8Array {
  const spki = k.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - TUNNEL_KEY_SIZE));
}

function rawPrivate(k: KeyObject): Uint8Array {
  const pkcs8 = k.export({ format: "der", type: "pkcs8" });
  return new Uint8Array(pkcs8.subarray(pkcs8.length - TUNNEL_KEY_SIZE));
}

/** A new random X25519 private key (32 bytes, clamped by the curve on use). */
export function generateTunnelPrivateKey(): Uint8Array {
  return rawPrivate(generateKeyPairSync("x25519").privateKey);
}

/** The X25519 public key of a 32-byte private key. */
export function tunnelPublicKey(priv: Uint8Array): Uint8Array {
  return rawPublic(createPublicKey(privateKeyObject(priv)));
}

/** A static or ephemeral key pair, holding the KeyObject for fast Diffie-Hellman. */
export class TunnelKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly object: KeyObject;

  constructor(privateKey: Uint8Array) {
    this.object = privateKeyObject(privateKey);
    this.privateKey = privateKey.slice();
    this.publicKey = rawPublic(createPublicKey(this.object));
  }

  /** A fresh random pair. */
  static generate(): TunnelKeyPair {
    return new TunnelKeyPair(generateTunnelPrivateKey());
  }

  /**
   * X25519(private, peer). Returns null for a peer key that yields the all-zero
   * shared secret (low-order points), which must never authenticate anything.
   */
  dh(peer: Uint8Array | KeyObject): Uint8Array | null {
    let out: Buffer;
    try {
      const pub = peer instanceof Uint8Array ? publicKeyObject(peer) : peer;
      out = diffieHellman({ privateKey: this.object, publicKey: pub });
    } catch {
      return null;
    }
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc |= out[i]!;
    return acc === 0 ? null : new Uint8Array(out.buffer, out.byteOffset, out.length);
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
