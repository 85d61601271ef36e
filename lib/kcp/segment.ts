/**
 * KCP segment codec (PROTOCOL.md §3): a 24-byte little-endian header, then data.
 * Several segments may share one packet.
 *
 * @module
 */

// Spec constants (ikcp / kcp-go).
/** Header size of one segment. */
export const OVERHEAD = 24;
export const CMD_PUSH = 81;
export const CMD_ACK = 82;
export const CMD_WASK = 83;
export const CMD_WINS = 84;

/** A decoded segment header plus a view of its data inside the packet. */
export interface Segment {
  conv: number;
  cmd: number;
  frg: number;
  wnd: number;
  ts: number;
  sn: number;
  una: number;
  data: Uint8Array;
}

/** Writes a segment header at `offset` of `buf`; returns the offset after it. */
export function encodeHeader(
  buf: Uint8Array,
  offset: number,
  conv: number,
  cmd: number,
  frg: number,
  wnd: number,
  ts: number,
  sn: number,
  una: number,
  len: number,
): number {
  if (offset < 0 || offset + OVERHEAD > buf.length) {
    throw new RangeError(`segment header at ${offset} does not fit in ${buf.length} bytes`);
  }
  let o = offset;
  buf[o++] = conv;
  buf[o++] = conv >>> 8;
  buf[o++] = conv >>> 16;
  buf[o++] = conv >>> 24;
  buf[o++] = cmd;
  buf[o++] = frg;
  buf[o++] = wnd;
  buf[o++] = wnd >>> 8;
  buf[o++] = ts;
  buf[o++] = ts >>> 8;
  buf[o++] = ts >>> 16;
  buf[o++] = ts >>> 24;
  buf[o++] = sn;
  buf[o++] = sn >>> 8;
  buf[o++] = sn >>> 16;
  buf[o++] = sn >>> 24;
  buf[o++] = una;
  buf[o++] = una >>> 8;
  buf[o++] = una >>> 16;
  buf[o++] = una >>> 24;
  buf[o++] = len;
  buf[o++] = len >>> 8;
  buf[o++] = len >>> 16;
  buf[o++] = len >>> 24;
  return o;
}

/** Reads a little-endian u32 at `o` (caller checks bounds). */
export function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Encodes one whole segment into a new buffer (tests and tools; the engine packs in place). */
export function encodeSegment(seg: Segment): Uint8Array {
  const out = new Uint8Array(OVERHEAD + seg.data.length);
  encodeHeader(
    out,
    0,
    seg.conv,
    seg.cmd,
    seg.frg,
    seg.wnd,
    seg.ts,
    seg.sn,
    seg.una,
    seg.data.length,
  );
  out.set(seg.data, OVERHEAD);
  return out;
}

/**
 * Decodes every segment of a packet. Throws SyntaxError on a truncated header,
 * a length past the end, or an unknown command.
 */
export function decodePacket(packet: Uint8Array): Segment[] {
  const out: Segment[] = [];
  let o = 0;
  while (o < packet.length) {
    if (packet.length - o < OVERHEAD) {
      throw new SyntaxError(`truncated KCP header: ${packet.length - o} bytes at offset ${o}`);
    }
    const cmd = packet[o + 4]!;
    if (cmd < CMD_PUSH || cmd > CMD_WINS) {
      throw new SyntaxError(`unknown KCP command ${cmd} at offset ${o}`);
    }
    const len = readU32(packet, o + 20);
    if (len > packet.length - o - OVERHEAD) {
      throw new SyntaxError(`KCP segment length ${len} exceeds packet at offset ${o}`);
    }
    out.push({
      conv: readU32(packet, o),
      cmd,
      frg: packet[o + 5]!,
      wnd: packet[o + 6]! | (packet[o + 7]! << 8),
      ts: readU32(packet, o + 8),
      sn: readU32(packet, o + 12),
      una: readU32(packet, o + 16),
      data: packet.subarray(o + OVERHEAD, o + OVERHEAD + len),
    });
    o += OVERHEAD + len;
  }
  return out;
}
