/**
 * The Noise-IK-style handshake (one round trip, client = initiator).
 *
 * Notation: ck chaining key, h transcript hash, HKDF(ck, x) → (ck', k) (crypto.ts),
 * AEAD(k, h, x) = XSalsa20-Poly1305 under HMAC(k, h), zero nonce. Si/Sr static
 * publics, Ei/Er ephemeral publics.
 *
 *     ck = SHA-256(CONSTRUCTION); h = SHA-256(SHA-256(ck ‖ IDENTIFIER) ‖ Sr)
 *   INIT:     h = H(h ‖ Ei); ck = HKDF1(ck, Ei)
 *             ck, k = HKDF2(ck, DH(ei, Sr))            es
 *             static = AEAD(k, h, Si);     h = H(h ‖ static)
 *             ck, k = HKDF2(ck, DH(si, Sr))            ss
 *             ts = AEAD(k, h, timestamp);  h = H(h ‖ ts)
 *   RESPONSE: h = H(h ‖ Er); ck = HKDF1(ck, Er)
 *             ck = HKDF1(ck, DH(er, Ei))               ee (forward secrecy)
 *             ck = HKDF1(ck, DH(er, Si))               se (initiator proves si now)
 *             ck, k = HKDF2(ck, ""); empty = AEAD(k, h, ""); h = H(h ‖ empty)
 *   keys:     (initiator→responder, responder→initiator) = HKDF2(ck, "")
 *
 * The client's static key travels sealed under es; the timestamp (12 bytes:
 * u64 BE seconds, u32 BE nanoseconds) lets the server refuse replayed initiations.
 *
 * @module
 */

import type { TunnelCipher } from "./cipher.ts";
import { aeadOpen, aeadSeal, hkdf, sha256 } from "./crypto.ts";
import { computeMac, mac1Key } from "./cookie.ts";
import { TunnelKeyPair } from "./keys.ts";
import {
  decodeInit,
  decodeResponse,
  encodeInit,
  encodeResponse,
  INIT_MAC1_OFFSET,
  INIT_MAC2_OFFSET,
  RESPONSE_MAC1_OFFSET,
} from "./messages.ts";

const TEXT = new TextEncoder();
const CONSTRUCTION = TEXT.encode("pytunnel_IK_25519_HKDFSHA256_XSalsa20Poly1305_v1");
const IDENTIFIER = TEXT.encode("pytunnel v1 lib/tunnel");
const EMPTY = new Uint8Array(0);
const ZERO16 = new Uint8Array(16);

/** Initial chaining key and transcript hash for a responder static public key. */
export function handshakeStart(responderPublic: Uint8Array): { ck: Uint8Array; h: Uint8Array } {
  const ck = sha256(CONSTRUCTION);
  return { ck, h: sha256(sha256(ck, IDENTIFIER), responderPublic) };
}

/** The 12-byte timestamp of a wall-clock time in ms. */
export function encodeTimestamp(ms: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  const s = Math.floor(ms / 1000);
  v.setBigUint64(0, BigInt(s));
  v.setUint32(8, Math.round((ms - s * 1000) * 1e6));
  return b;
}

/** Lexicographic comparison of two timestamps: > 0 when a is later. */
export function compareTimestamps(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 12; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Transport keys of a completed handshake. */
export interface TunnelSessionKeys {
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  /** Our index (peers put it in the receiver field of what they send us). */
  localIndex: number;
  /** The peer's index. */
  remoteIndex: number;
  initiator: boolean;
}

/** What the initiator keeps between INIT and RESPONSE. */
export interface TunnelInitiation {
  message: Uint8Array;
  /** mac1 of `message` (the associated data of a cookie challenge). */
  mac1: Uint8Array;
  senderIndex: number;
  serverPublic: Uint8Array;
  ck: Uint8Array;
  h: Uint8Array;
  ephemeral: TunnelKeyPair;
}

/** Builds INIT (or INIT_WITH_COOKIE when `cookie` is given). Throws only on bad arguments. */
export function createInitiation(
  cipher: TunnelCipher,
  local: TunnelKeyPair,
  serverPublic: Uint8Array,
  senderIndex: number,
  nowMs: number,
  cookie: Uint8Array | null = null,
  ephemeral: TunnelKeyPair = TunnelKeyPair.generate(),
): TunnelInitiation {
  let { ck, h } = handshakeStart(serverPublic);
  const e = ephemeral.publicKey;
  h = sha256(h, e);
  [ck] = hkdf(ck, e, 1) as [Uint8Array];
  const es = ephemeral.dh(serverPublic);
  if (!es) throw new RangeError("server public key is a low-order point");
  let k: Uint8Array;
  [ck, k] = hkdf(ck, es, 2) as [Uint8Array, Uint8Array];
  const staticBox = aeadSeal(cipher, k, h, local.publicKey);
  h = sha256(h, staticBox);
  const ss = local.dh(serverPublic);
  if (!ss) throw new RangeError("server public key is a low-order point");
  [ck, k] = hkdf(ck, ss, 2) as [Uint8Array, Uint8Array];
  const timestampBox = aeadSeal(cipher, k, h, encodeTimestamp(nowMs));
  h = sha256(h, timestampBox);
  const message = encodeInit({
    sender: senderIndex,
    ephemeral: e,
    staticBox,
    timestampBox,
    mac1: ZERO16,
    mac2: cookie ? ZERO16 : null,
  });
  const mac1 = computeMac(mac1Key(serverPublic), message, INIT_MAC1_OFFSET);
  message.set(mac1, INIT_MAC1_OFFSET);
  if (cookie) message.set(computeMac(cookie, message, INIT_MAC2_OFFSET), INIT_MAC2_OFFSET);
  return { message, mac1: mac1.slice(), senderIndex, serverPublic, ck, h, ephemeral };
}

/** A verified initiation, before the responder answers it. */
export interface TunnelReceivedInitiation {
  peerPublic: Uint8Array;
  timestamp: Uint8Array;
  senderIndex: number;
  peerEphemeral: Uint8Array;
  ck: Uint8Array;
  h: Uint8Array;
}

/** Why an initiation was refused. */
export type TunnelInitRefusal = "auth" | "unknown-peer";

/**
 * Opens an INIT / INIT_WITH_COOKIE (mac1/mac2 are the caller's business).
 * `lookup` maps the decrypted client static key to its precomputed DH(sr, Si),
 * or null for a key not in the ACL (then no further DH is done).
 */
export function consumeInitiation(
  cipher: TunnelCipher,
  local: TunnelKeyPair,
  message: Uint8Array,
  lookup: (peerPublic: Uint8Array) => Uint8Array | null,
): TunnelReceivedInitiation | TunnelInitRefusal {
  const m = decodeInit(message);
  let { ck, h } = handshakeStart(local.publicKey);
  h = sha256(h, m.ephemeral);
  [ck] = hkdf(ck, m.ephemeral, 1) as [Uint8Array];
  const es = local.dh(m.ephemeral);
  if (!es) return "auth";
  let k: Uint8Array;
  [ck, k] = hkdf(ck, es, 2) as [Uint8Array, Uint8Array];
  const peerPublic = aeadOpen(cipher, k, h, m.staticBox);
  if (!peerPublic) return "auth";
  h = sha256(h, m.staticBox);
  const ss = lookup(peerPublic);
  if (!ss) return "unknown-peer";
  [ck, k] = hkdf(ck, ss, 2) as [Uint8Array, Uint8Array];
  const timestamp = aeadOpen(cipher, k, h, m.timestampBox);
  if (!timestamp) return "auth";
  h = sha256(h, m.timestampBox);
  return {
    peerPublic,
    timestamp,
    senderIndex: m.sender,
    peerEphemeral: m.ephemeral.slice(),
    ck,
    h,
  };
}

function finish(ck: Uint8Array): [Uint8Array, Uint8Array] {
  return hkdf(ck, EMPTY, 2) as [Uint8Array, Uint8Array];
}

/** Builds the RESPONSE to a verified initiation and derives the responder's keys. */
export function createResponse(
  cipher: TunnelCipher,
  init: TunnelReceivedInitiation,
  senderIndex: number,
  ephemeral: TunnelKeyPair = TunnelKeyPair.generate(),
): { message: Uint8Array; keys: TunnelSessionKeys } | null {
  let { ck, h } = init;
  const e = ephemeral.publicKey;
  h = sha256(h, e);
  [ck] = hkdf(ck, e, 1) as [Uint8Array];
  const ee = ephemeral.dh(init.peerEphemeral);
  const se = ephemeral.dh(init.peerPublic);
  if (!ee || !se) return null;
  [ck] = hkdf(ck, ee, 1) as [Uint8Array];
  [ck] = hkdf(ck, se, 1) as [Uint8Array];
  let k: Uint8Array;
  [ck, k] = hkdf(ck, EMPTY, 2) as [Uint8Array, Uint8Array];
  const emptyBox = aeadSeal(cipher, k, h, EMPTY);
  const message = encodeResponse({
    sender: senderIndex,
    receiver: init.senderIndex,
    ephemeral: e,
    emptyBox,
    mac1: ZERO16,
  });
  message.set(
    computeMac(mac1Key(init.peerPublic), message, RESPONSE_MAC1_OFFSET),
    RESPONSE_MAC1_OFFSET,
  );
  const [i2r, r2i] = finish(ck);
  return {
    message,
    keys: {
      sendKey: r2i,
      recvKey: i2r,
      localIndex: senderIndex,
      remoteIndex: init.senderIndex,
      initiator: false,
    },
  };
}

/**
 * Opens the RESPONSE to `init` and derives the initiator's keys; null when it
 * does not verify (wrong server key, tampering, wrong mac1, not ours).
 */
export function consumeResponse(
  cipher: TunnelCipher,
  local: TunnelKeyPair,
  init: TunnelInitiation,
  message: Uint8Array,
): TunnelSessionKeys | null {
  const m = decodeResponse(message);
  if (m.receiver !== init.senderIndex) return null;
  const want = computeMac(mac1Key(local.publicKey), message, RESPONSE_MAC1_OFFSET);
  let d = 0;
  for (let i = 0; i < 16; i++) d |= want[i]! ^ m.mac1[i]!;
  if (d !== 0) return null;
  let { ck, h } = init;
  h = sha256(h, m.ephemeral);
  [ck] = hkdf(ck, m.ephemeral, 1) as [Uint8Array];
  const ee = init.ephemeral.dh(m.ephemeral);
  const se = local.dh(m.ephemeral);
  if (!ee || !se) return null;
  [ck] = hkdf(ck, ee, 1) as [Uint8Array];
  [ck] = hkdf(ck, se, 1) as [Uint8Array];
  let k: Uint8Array;
  [ck, k] = hkdf(ck, EMPTY, 2) as [Uint8Array, Uint8Array];
  if (!aeadOpen(cipher, k, h, m.emptyBox)) return null;
  const [i2r, r2i] = finish(ck);
  return {
    sendKey: i2r,
    recvKey: r2i,
    localIndex: init.senderIndex,
    remoteIndex: m.sender,
    initiator: true,
  };
}
