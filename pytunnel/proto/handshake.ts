/**
 * The handshake: static + ephemeral X25519 on both sides, keys chained with
 * HKDF over es, ss, ee and se (so both sides are authenticated and the data
 * keys have forward secrecy); the initiator's static key travels encrypted.
 *
 * @module
 */

import { hmac, kdf, open, seal, StaticKey, TAG } from "./crypto.ts";
import {
  header,
  INIT_WITH_COOKIE_SIZE,
  MSG_INIT_WITH_COOKIE,
  MSG_RESPONSE,
  RESPONSE_SIZE,
  u32,
} from "./wire.ts";

const ZERO_NONCE = new Uint8Array(24);
const CK0 = hmac(new TextEncoder().encode("pytunnel v1"), new Uint8Array(0));

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Microseconds, strictly increasing within this process (the responder rejects old ones).
let lastTimestamp = 0n;

/** Directional data keys. */
export interface SessionKeys {
  send: Uint8Array;
  recv: Uint8Array;
}

/** Initiator state between INIT_WITH_COOKIE and RESPONSE. */
export interface Initiation {
  sender: number;
  eph: StaticKey;
  chain: Uint8Array;
  message: Uint8Array;
}

/** Builds INIT_WITH_COOKIE. */
export function initiate(
  me: StaticKey,
  server: Uint8Array,
  sender: number,
  cookie: Uint8Array,
): Initiation {
  const eph = StaticKey.random();
  const [ck1, k1] = kdf(CK0, cat(eph.publicKey, eph.dh(server)), "es", 2) as [
    Uint8Array,
    Uint8Array,
  ];
  const [ck2, k2] = kdf(ck1, me.dh(server), "ss", 2) as [Uint8Array, Uint8Array];
  const { buf, view } = header(MSG_INIT_WITH_COOKIE, INIT_WITH_COOKIE_SIZE);
  view.setUint32(4, sender, true);
  buf.set(eph.publicKey, 8);
  seal(buf.subarray(40, 88), me.publicKey, ZERO_NONCE, k1);
  const ts = new Uint8Array(8);
  lastTimestamp = BigInt(Date.now()) * 1000n > lastTimestamp
    ? BigInt(Date.now()) * 1000n
    : lastTimestamp + 1n;
  new DataView(ts.buffer).setBigUint64(0, lastTimestamp, true);
  seal(buf.subarray(88, 112), ts, ZERO_NONCE, k2);
  buf.set(cookie.subarray(0, 16), 112);
  return { sender, eph, chain: ck2, message: buf };
}

/** What the responder learns from a valid INIT_WITH_COOKIE. */
export interface Initiated {
  sender: number;
  peerStatic: Uint8Array;
  timestamp: bigint;
  ephemeral: Uint8Array;
  chain: Uint8Array;
}

/** Step 1 of the responder: es DH and the encrypted static key (identifies the peer). */
export function readInitStatic(
  me: StaticKey,
  msg: Uint8Array,
): { ck1: Uint8Array; peerStatic: Uint8Array; ephemeral: Uint8Array } | null {
  const ephemeral = msg.slice(8, 40);
  let es: Uint8Array;
  try {
    es = me.dh(ephemeral);
  } catch {
    return null;
  }
  const [ck1, k1] = kdf(CK0, cat(ephemeral, es), "es", 2) as [Uint8Array, Uint8Array];
  const peerStatic = new Uint8Array(32);
  if (!open(peerStatic, msg.subarray(40, 88), ZERO_NONCE, k1)) return null;
  return { ck1, peerStatic, ephemeral };
}

/** Step 2: ss DH with the now-known peer and the timestamp. */
export function readInitTimestamp(
  me: StaticKey,
  msg: Uint8Array,
  step1: { ck1: Uint8Array; peerStatic: Uint8Array; ephemeral: Uint8Array },
): Initiated | null {
  let ss: Uint8Array;
  try {
    ss = me.dh(step1.peerStatic);
  } catch {
    return null;
  }
  const [ck2, k2] = kdf(step1.ck1, ss, "ss", 2) as [Uint8Array, Uint8Array];
  const ts = new Uint8Array(8);
  if (!open(ts, msg.subarray(88, 112), ZERO_NONCE, k2)) return null;
  return {
    sender: u32(msg, 4),
    peerStatic: step1.peerStatic,
    timestamp: new DataView(ts.buffer).getBigUint64(0, true),
    ephemeral: step1.ephemeral,
    chain: ck2,
  };
}

function finish(chain: Uint8Array, er: Uint8Array, ee: Uint8Array, se: Uint8Array) {
  const [ck3, k3] = kdf(chain, cat(er, ee, se), "resp", 2) as [Uint8Array, Uint8Array];
  const [i2r, r2i] = kdf(ck3, new Uint8Array(0), "data", 2) as [Uint8Array, Uint8Array];
  return { k3, i2r, r2i };
}

/** Builds RESPONSE and the responder's session keys. */
export function respond(
  init: Initiated,
  sender: number,
): { message: Uint8Array; keys: SessionKeys } {
  const eph = StaticKey.random();
  const { k3, i2r, r2i } = finish(
    init.chain,
    eph.publicKey,
    eph.dh(init.ephemeral),
    eph.dh(init.peerStatic),
  );
  const { buf, view } = header(MSG_RESPONSE, RESPONSE_SIZE);
  view.setUint32(4, sender, true);
  view.setUint32(8, init.sender, true);
  buf.set(eph.publicKey, 12);
  seal(buf.subarray(44, 44 + TAG), new Uint8Array(0), ZERO_NONCE, k3);
  return { message: buf, keys: { send: r2i, recv: i2r } };
}

/** Checks RESPONSE against our initiation; returns the peer's index and session keys. */
export function readResponse(
  me: StaticKey,
  ini: Initiation,
  msg: Uint8Array,
): { receiver: number; keys: SessionKeys } | null {
  const er = msg.slice(12, 44);
  let ee: Uint8Array, se: Uint8Array;
  try {
    ee = ini.eph.dh(er);
    se = me.dh(er);
  } catch {
    return null;
  }
  const { k3, i2r, r2i } = finish(ini.chain, er, ee, se);
  if (!open(new Uint8Array(0), msg.subarray(44, 44 + TAG), ZERO_NONCE, k3)) return null;
  return { receiver: u32(msg, 4), keys: { send: i2r, recv: r2i } };
}
