/**
 * Wire codecs of the tunnel's UDP messages. Every message starts with a
 * 4-byte header: type (1 byte) and three zero bytes. Integers are little-endian.
 *
 * | type | message            | size | layout (offset: field)                                    |
 * |------|--------------------|------|-----------------------------------------------------------|
 * | 1    | INIT               | 132  | 4 sender u32, 8 ephemeral[32], 40 static box[48],         |
 * |      |                    |      | 88 timestamp box[28], 116 mac1[16]                        |
 * | 2    | INIT_WITH_COOKIE   | 148  | INIT's fields, then 132 mac2[16]                          |
 * | 3    | COOKIE_CHALLENGE   | 64   | 4 receiver u32, 8 nonce[24], 32 cookie box[32]            |
 * | 4    | RESPONSE           | 76   | 4 sender u32, 8 receiver u32, 12 ephemeral[32],           |
 * |      |                    |      | 44 empty box[16], 60 mac1[16]                             |
 * | 5    | DATA               | ≥ 32 | 4 receiver u32, 8 counter u64, 16 box (tag ‖ ciphertext)  |
 *
 * KEEPALIVE is a DATA message with an empty plaintext (32 bytes). mac1 covers
 * every byte before it, mac2 every byte before it (mac1 included).
 *
 * Parsers return views into the input (no copies) and throw SyntaxError for a
 * wrong type or non-zero reserved bytes and RangeError for a wrong length.
 *
 * @module
 */

export const MSG_INIT = 1;
export const MSG_INIT_WITH_COOKIE = 2;
export const MSG_COOKIE_CHALLENGE = 3;
export const MSG_RESPONSE = 4;
export const MSG_DATA = 5;

export const INIT_SIZE = 132;
export const INIT_WITH_COOKIE_SIZE = 148;
export const COOKIE_CHALLENGE_SIZE = 64;
export const RESPONSE_SIZE = 76;
export const DATA_HEADER_SIZE = 16;
export const KEEPALIVE_SIZE = DATA_HEADER_SIZE + 16;

/** Offset of mac1 in INIT / INIT_WITH_COOKIE, and of mac2 in INIT_WITH_COOKIE. */
export const INIT_MAC1_OFFSET = 116;
export const INIT_MAC2_OFFSET = 132;
/** Offset of mac1 in RESPONSE. */
export const RESPONSE_MAC1_OFFSET = 60;

/** Handshake initiation fields (INIT and INIT_WITH_COOKIE). */
export interface TunnelInit {
  sender: number;
  ephemeral: Uint8Array; // 32
  staticBox: Uint8Array; // 48
  timestampBox: Uint8Array; // 28
  mac1: Uint8Array; // 16
  mac2: Uint8Array | null; // 16 in INIT_WITH_COOKIE
}

/** COOKIE_CHALLENGE fields. */
export interface TunnelCookieChallenge {
  receiver: number;
  nonce: Uint8Array; // 24
  cookieBox: Uint8Array; // 32
}

/** RESPONSE fields. */
export interface TunnelResponse {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array; // 32
  emptyBox: Uint8Array; // 16
  mac1: Uint8Array; // 16
}

/** DATA fields; `counter` is exact below 2^53 (larger counters are never accepted). */
export interface TunnelData {
  receiver: number;
  counter: number;
  box: Uint8Array;
}

/** The message type byte, or -1 when the buffer is too short or the reserved bytes are set. */
export function messageType(b: Uint8Array): number {
  if (b.length < 4 || b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return -1;
  return b[0]!;
}

export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** Reads a u64 LE as a number; returns Infinity when it does not fit in 53 bits. */
export function readCounter(b: Uint8Array, off: number): number {
  const hi = readU32(b, off + 4);
  if (hi >= 0x200000) return Infinity;
  return hi * 0x100000000 + readU32(b, off);
}

/** Writes a counter below 2^53 as u64 LE. */
export function writeCounter(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off, v >>> 0);
  writeU32(b, off + 4, Math.floor(v / 0x100000000));
}

function header(b: Uint8Array, type: number): void {
  b[0] = type;
}

function expect(b: Uint8Array, types: number[], sizes: number[], what: string): number {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  const t = messageType(b);
  if (t < 0 || !types.includes(t)) {
    throw new SyntaxError(`${what}: bad header ${Array.from(b.subarray(0, 4)).join(",")}`);
  }
  const want = sizes[types.indexOf(t)]!;
  if (b.length !== want) throw new RangeError(`${what}: length ${b.length}, want ${want}`);
  return t;
}

function field(v: Uint8Array, len: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (v.length !== len) throw new RangeError(`${what} must be ${len} bytes, got ${v.length}`);
  return v;
}

function index(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`${what} ${v} is not a u32`);
  }
  return v;
}

/** Encodes INIT (mac2 null) or INIT_WITH_COOKIE (mac2 set). */
export function encodeInit(m: TunnelInit): Uint8Array {
  const withCookie = m.mac2 !== null;
  const b = new Uint8Array(withCookie ? INIT_WITH_COOKIE_SIZE : INIT_SIZE);
  header(b, withCookie ? MSG_INIT_WITH_COOKIE : MSG_INIT);
  writeU32(b, 4, index(m.sender, "sender index"));
  b.set(field(m.ephemeral, 32, "ephemeral"), 8);
  b.set(field(m.staticBox, 48, "static box"), 40);
  b.set(field(m.timestampBox, 28, "timestamp box"), 88);
  b.set(field(m.mac1, 16, "mac1"), INIT_MAC1_OFFSET);
  if (m.mac2) b.set(field(m.mac2, 16, "mac2"), INIT_MAC2_OFFSET);
  return b;
}

/** Decodes INIT or INIT_WITH_COOKIE. */
export function decodeInit(b: Uint8Array): TunnelInit {
  const t = expect(b, [MSG_INIT, MSG_INIT_WITH_COOKIE], [INIT_SIZE, INIT_WITH_COOKIE_SIZE], "init");
  return {
    sender: readU32(b, 4),
    ephemeral: b.subarray(8, 40),
    staticBox: b.subarray(40, 88),
    timestampBox: b.subarray(88, 116),
    mac1: b.subarray(116, 132),
    mac2: t === MSG_INIT_WITH_COOKIE ? b.subarray(132, 148) : null,
  };
}

/** Encodes COOKIE_CHALLENGE. */
export function encodeCookieChallenge(m: TunnelCookieChallenge): Uint8Array {
  const b = new Uint8Array(COOKIE_CHALLENGE_SIZE);
  header(b, MSG_COOKIE_CHALLENGE);
  writeU32(b, 4, index(m.receiver, "receiver index"));
  b.set(field(m.nonce, 24, "nonce"), 8);
  b.set(field(m.cookieBox, 32, "cookie box"), 32);
  return b;
}

/** Decodes COOKIE_CHALLENGE. */
export function decodeCookieChallenge(b: Uint8Array): TunnelCookieChallenge {
  expect(b, [MSG_COOKIE_CHALLENGE], [COOKIE_CHALLENGE_SIZE], "cookie challenge");
  return { receiver: readU32(b, 4), nonce: b.subarray(8, 32), cookieBox: b.subarray(32, 64) };
}

/** Encodes RESPONSE. */
export function encodeResponse(m: TunnelResponse): Uint8Array {
  const b = new Uint8Array(RESPONSE_SIZE);
  header(b, MSG_RESPONSE);
  writeU32(b, 4, index(m.sender, "sender index"));
  writeU32(b, 8, index(m.receiver, "receiver index"));
  b.set(field(m.ephemeral, 32, "ephemeral"), 12);
  b.set(field(m.emptyBox, 16, "empty box"), 44);
  b.set(field(m.mac1, 16, "mac1"), RESPONSE_MAC1_OFFSET);
  return b;
}

/** Decodes RESPONSE. */
export function decodeResponse(b: Uint8Array): TunnelResponse {
  expect(b, [MSG_RESPONSE], [RESPONSE_SIZE], "response");
  return {
    sender: readU32(b, 4),
    receiver: readU32(b, 8),
    ephemeral: b.subarray(12, 44),
    emptyBox: b.subarray(44, 60),
    mac1: b.subarray(60, 76),
  };
}

/** Encodes DATA around an already sealed box (tag ‖ ciphertext). */
export function encodeData(m: TunnelData): Uint8Array {
  if (!(m.box instanceof Uint8Array)) throw new TypeError("box must be a Uint8Array");
  if (m.box.length < 16) throw new RangeError(`data box must be ≥ 16 bytes, got ${m.box.length}`);
  if (!Number.isSafeInteger(m.counter) || m.counter < 0) {
    throw new RangeError(`counter ${m.counter} is not a u53`);
  }
  const b = new Uint8Array(DATA_HEADER_SIZE + m.box.length);
  header(b, MSG_DATA);
  writeU32(b, 4, index(m.receiver, "receiver index"));
  writeCounter(b, 8, m.counter);
  b.set(m.box, DATA_HEADER_SIZE);
  return b;
}

/** Decodes DATA (counter is Infinity beyond 2^53, which no receiver accepts). */
export function decodeData(b: Uint8Array): TunnelData {
  if (!(b instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
  if (messageType(b) !== MSG_DATA) throw new SyntaxError("data: bad header");
  if (b.length < KEEPALIVE_SIZE) {
    throw new RangeError(`data: length ${b.length}, want ≥ ${KEEPALIVE_SIZE}`);
  }
  return { receiver: readU32(b, 4), counter: readCounter(b, 8), box: b.subarray(16) };
}
