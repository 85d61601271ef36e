/**
 * A WebSocket client made of raw TCP bytes, for tests that must misbehave the way no
 * WebSocket library lets them: never finishing a message, declaring huge frames,
 * never answering a Close.
 *
 * @module
 */
import { concatBytes } from "../net/bytes.ts";

const encoder = new TextEncoder();

/** Opens TCP to `port`, sends an upgrade request for `path`, and reads up to the 101 reply. */
export async function rawWebSocket(port: number, path = "/"): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  // Byte by byte, so nothing after the headers is consumed.
  let head = "";
  const one = new Uint8Array(1);
  while (!head.endsWith("\r\n\r\n")) {
    if (await conn.read(one) === null) throw new Error(`EOF in the upgrade reply: ${head}`);
    head += String.fromCharCode(one[0]!);
  }
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${head}`);
  return conn;
}

/** The header of a client frame (masked with a zero key, so the payload goes as is). */
export function clientFrameHeader(opcode: number, length: number, fin = true): Uint8Array {
  const first = (fin ? 0x80 : 0) | opcode;
  const key = [0, 0, 0, 0];
  if (length < 126) return new Uint8Array([first, 0x80 | length, ...key]);
  if (length < 65536) return new Uint8Array([first, 0x80 | 126, length >> 8, length & 255, ...key]);
  const h = new Uint8Array(14);
  h[0] = first;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(length));
  return h;
}

/** A whole client frame. */
export function clientFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  return concatBytes([clientFrameHeader(opcode, payload.length, fin), payload]);
}

/** Reads until EOF or a reset; resolves with the bytes read. */
export async function readUntilClosed(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(65536);
  let total = 0;
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) total += n;
  } catch { /* reset */ }
  return total;
}

/** Writes `next()` until it returns null or the peer refuses; resolves with bytes written. */
export async function writeUntilRefused(
  conn: Deno.Conn,
  next: () => Uint8Array | null,
): Promise<number> {
  let written = 0;
  try {
    for (let b = next(); b !== null; b = next()) {
      let off = 0;
      while (off < b.length) off += await conn.write(b.subarray(off));
      written += b.length;
    }
  } catch { /* refused */ }
  return written;
}
