/**
 * Wire format of pytunnel's fallback core. Every message starts with a type
 * byte and three zero bytes; integers are little-endian.
 *
 * | type | message          | layout after the 4-byte header                                  |
 * | ---- | ---------------- | --------------------------------------------------------------- |
 * | 1    | INIT             | sender u32, random padding (128 bytes in all)                    |
 * | 2    | COOKIE           | receiver u32, cookie 16 (24 bytes)                               |
 * | 3    | INIT_WITH_COOKIE | sender u32, ephemeral 32, static box 48, timestamp box 24, cookie 16 (128) |
 * | 4    | RESPONSE         | sender u32, receiver u32, ephemeral 32, empty box 16 (60)        |
 * | 5    | DATA             | receiver u32, counter u64, box (16-byte tag + ciphertext)        |
 *
 * @module
 */

export const MSG_INIT = 1;
export const MSG_COOKIE = 2;
export const MSG_INIT_WITH_COOKIE = 3;
export const MSG_RESPONSE = 4;
export const MSG_DATA = 5;

export const INIT_SIZE = 128;
export const COOKIE_SIZE = 24;
export const INIT_WITH_COOKIE_SIZE = 128;
export const RESPONSE_SIZE = 60;
export const DATA_HEADER = 16;

/** The message type of a packet, or 0 when it is not a well-formed pytunnel message. */
export function messageType(p: Uint8Array): number {
  if (p.length < 8 || p[1] !== 0 || p[2] !== 0 || p[3] !== 0) return 0;
  switch (p[0]) {
    case MSG_INIT:
      return p.length === INIT_SIZE ? MSG_INIT : 0;
    case MSG_COOKIE:
      return p.length === COOKIE_SIZE ? MSG_COOKIE : 0;
    case MSG_INIT_WITH_COOKIE:
      return p.length === INIT_WITH_COOKIE_SIZE ? MSG_INIT_WITH_COOKIE : 0;
    case MSG_RESPONSE:
      return p.length === RESPONSE_SIZE ? MSG_RESPONSE : 0;
    case MSG_DATA:
      return p.length >= DATA_HEADER + 16 ? MSG_DATA : 0;
    default:
      return 0;
  }
}

export function u32(p: Uint8Array, off: number): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(off, true);
}

export function header(type: number, size: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(size);
  buf[0] = type;
  return { buf, view: new DataView(buf.buffer) };
}

/** An INIT from `sender` (random padding, so every flood packet differs). */
export function buildInit(sender: number): Uint8Array {
  const { buf, view } = header(MSG_INIT, INIT_SIZE);
  view.setUint32(4, sender, true);
  buf.set(crypto.getRandomValues(new Uint8Array(INIT_SIZE - 8)), 8);
  return buf;
}

export function buildCookie(receiver: number, cookie: Uint8Array): Uint8Array {
  const { buf, view } = header(MSG_COOKIE, COOKIE_SIZE);
  view.setUint32(4, receiver, true);
  buf.set(cookie.subarray(0, 16), 8);
  return buf;
}
