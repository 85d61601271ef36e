/**
 * mac1, mac2 and the stateless cookie.
 *
 * - mac1 = HMAC-SHA256(SHA-256("mac1----" ‖ receiver's static public), message before mac1)[0..16]:
 *   proves the sender knows whom it talks to; checked before anything else.
 * - cookie = HMAC-SHA256(secret_e, "host:port" ‖ e as u64 BE)[0..16], e = ⌊now / rotate⌋, where
 *   secret_e is random per period: the server keeps only the current and the previous secret.
 * - mac2 = HMAC-SHA256(cookie, message before mac2)[0..16]; proves the sender receives packets at
 *   its source address. Only INIT_WITH_COOKIE with a valid mac2 reaches Diffie-Hellman.
 * - COOKIE_CHALLENGE carries the cookie sealed with XSalsa20-Poly1305 under
 *   HMAC-SHA256(SHA-256("cookie--" ‖ server static public), mac1 of the initiation) and a random
 *   nonce, so only the initiator of that very message can read it.
 *
 * @module
 */

import type { TunnelCipher } from "./cipher.ts";
import type { TunnelClock } from "./clock.ts";
import { equalBytes, hmac, sha256 } from "./crypto.ts";
import { encodeCookieChallenge, type TunnelCookieChallenge } from "./messages.ts";

const TEXT = new TextEncoder();
const MAC1_LABEL = TEXT.encode("mac1----");
const COOKIE_LABEL = TEXT.encode("cookie--");

/** Default secret rotation period (and cookie lifetime), as WireGuard. */
export const COOKIE_ROTATE_MS = 120_000;

/** The mac1 key of a static public key. */
export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return sha256(MAC1_LABEL, publicKey);
}

/** The key that seals cookies sent by the owner of a static public key. */
export function cookieSealKey(publicKey: Uint8Array): Uint8Array {
  return sha256(COOKIE_LABEL, publicKey);
}

/** HMAC(key, msg[0..offset])[0..16]. */
export function computeMac(key: Uint8Array, msg: Uint8Array, offset: number): Uint8Array {
  return hmac(key, msg.subarray(0, offset)).subarray(0, 16);
}

/** Writes the MAC of msg[0..offset] at msg[offset..offset+16]. */
export function writeMac(key: Uint8Array, msg: Uint8Array, offset: number): void {
  msg.set(computeMac(key, msg, offset), offset);
}

/** True when msg[offset..offset+16] is the MAC of msg[0..offset]. */
export function checkMac(key: Uint8Array, msg: Uint8Array, offset: number): boolean {
  if (msg.length < offset + 16) return false;
  return equalBytes(computeMac(key, msg, offset), msg.subarray(offset, offset + 16));
}

function epochBytes(e: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(e));
  return b;
}

/** The server's side: mac1 check, cookie minting and mac2 check with rotating secrets. */
export class TunnelCookieChecker {
  readonly mac1Key: Uint8Array;
  #sealKey: Uint8Array;
  #clock: TunnelClock;
  #rotateMs: number;
  #secrets = new Map<number, Uint8Array>();
  #newSecret: () => Uint8Array;

  /** `newSecret` makes each period's secret (random; injectable for known-answer tests). */
  constructor(
    serverPublicKey: Uint8Array,
    clock: TunnelClock,
    rotateMs = COOKIE_ROTATE_MS,
    newSecret: () => Uint8Array = () => crypto.getRandomValues(new Uint8Array(32)),
  ) {
    if (!(rotateMs > 0)) throw new RangeError(`cookie rotation ${rotateMs} ms must be > 0`);
    this.mac1Key = mac1Key(serverPublicKey);
    this.#sealKey = cookieSealKey(serverPublicKey);
    this.#clock = clock;
    this.#rotateMs = rotateMs;
    this.#newSecret = newSecret;
  }

  #epoch(): number {
    return Math.floor(this.#clock.now() / this.#rotateMs);
  }

  #secret(e: number, create: boolean): Uint8Array | undefined {
    let s = this.#secrets.get(e);
    if (!s && create) {
      s = this.#newSecret();
      this.#secrets.set(e, s);
      for (const k of this.#secrets.keys()) if (k < e - 1) this.#secrets.delete(k);
    }
    return s;
  }

  /** The cookie of a source address ("host:port") for the current period. */
  cookie(source: string): Uint8Array {
    const e = this.#epoch();
    return hmac(this.#secret(e, true)!, TEXT.encode(source), epochBytes(e)).subarray(0, 16);
  }

  /** mac1 check of a message whose mac1 sits at `offset`. */
  checkMac1(msg: Uint8Array, offset: number): boolean {
    return checkMac(this.mac1Key, msg, offset);
  }

  /** mac2 check against the cookie of the current or the previous period. */
  checkMac2(msg: Uint8Array, offset: number, source: string): boolean {
    const e = this.#epoch();
    const src = TEXT.encode(source);
    for (const k of [e, e - 1]) {
      const s = this.#secret(k, false);
      if (!s) continue;
      const cookie = hmac(s, src, epochBytes(k)).subarray(0, 16);
      if (checkMac(cookie, msg, offset)) return true;
    }
    return false;
  }

  /** A COOKIE_CHALLENGE answering an initiation from `source` (receiver = its sender index). */
  challenge(
    cipher: TunnelCipher,
    receiver: number,
    mac1: Uint8Array,
    source: string,
  ): Uint8Array {
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    const cookieBox = new Uint8Array(32);
    cipher.seal(cookieBox, this.cookie(source), nonce, hmac(this.#sealKey, mac1));
    const m: TunnelCookieChallenge = { receiver, nonce, cookieBox };
    return encodeCookieChallenge(m);
  }
}

/** The initiator's side: the cookie inside a challenge, or null if it does not verify. */
export function openCookieChallenge(
  cipher: TunnelCipher,
  serverPublicKey: Uint8Array,
  sentMac1: Uint8Array,
  challenge: TunnelCookieChallenge,
): Uint8Array | null {
  const out = new Uint8Array(16);
  const key = hmac(cookieSealKey(serverPublicKey), sentMac1);
  return cipher.open(out, challenge.cookieBox, challenge.nonce, key) ? out : null;
}
