/**
 * smux frame codec (xtaci/smux v1.5.x, docs/PROTOCOL.md §4):
 * `ver u8 | cmd u8 | length u16 LE | sid u32 LE | data`.
 *
 * @module
 */

// Spec constants.
export const SMUX_CMD_SYN = 0;
export const SMUX_CMD_FIN = 1;
export const SMUX_CMD_PSH = 2;
export const SMUX_CMD_NOP = 3;
/** Window update, protocol version 2 only: consumed u32 LE, window u32 LE. */
export const SMUX_CMD_UPD = 4;
export const SMUX_HEADER_SIZE = 8;
export const SMUX_UPD_SIZE = 8;
/** What a v2 sender assumes about a peer's window before its first UPD. */
export const SMUX_INITIAL_PEER_WINDOW = 262144;
export const SMUX_MAX_FRAME_SIZE = 65535;

/** One decoded frame. For PSH `data` may be a view into a received chunk. */
export interface SmuxFrame {
  ver: number;
  cmd: number;
  sid: number;
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Writes a frame header at `offset` of `buf`. */
export function writeSmuxHeader(
  buf: Uint8Array,
  offset: number,
  ver: number,
  cmd: number,
  length: number,
  sid: number,
): void {
  buf[offset] = ver;
  buf[offset + 1] = cmd;
  buf[offset + 2] = length & 0xff;
  buf[offset + 3] = length >>> 8;
  buf[offset + 4] = sid & 0xff;
  buf[offset + 5] = (sid >>> 8) & 0xff;
  buf[offset + 6] = (sid >>> 16) & 0xff;
  buf[offset + 7] = sid >>> 24;
}

/** Encodes one frame (header + data) into a single new buffer. */
export function encodeSmuxFrame(
  ver: number,
  cmd: number,
  sid: number,
  data: Uint8Array = EMPTY,
): Uint8Array {
  if (data.length > SMUX_MAX_FRAME_SIZE) {
    throw new RangeError(`smux frame data length ${data.length} exceeds ${SMUX_MAX_FRAME_SIZE}`);
  }
  const buf = new Uint8Array(SMUX_HEADER_SIZE + data.length);
  writeSmuxHeader(buf, 0, ver, cmd, data.length, sid);
  buf.set(data, SMUX_HEADER_SIZE);
  return buf;
}

/** The 8-byte payload of a v2 UPD frame. */
export function encodeSmuxUpd(consumed: number, window: number): Uint8Array {
  const data = new Uint8Array(SMUX_UPD_SIZE);
  const view = new DataView(data.buffer);
  view.setUint32(0, consumed >>> 0, true);
  view.setUint32(4, window >>> 0, true);
  return data;
}

/** Reads the consumed/window pair of a UPD payload. */
export function decodeSmuxUpd(data: Uint8Array): { consumed: number; window: number } {
  if (data.length !== SMUX_UPD_SIZE) {
    throw new SyntaxError(`smux UPD payload length ${data.length}, want ${SMUX_UPD_SIZE}`);
  }
  return {
    consumed: (data[0]! | data[1]! << 8 | data[2]! << 16 | data[3]! << 24) >>> 0,
    window: (data[4]! | data[5]! << 8 | data[6]! << 16 | data[7]! << 24) >>> 0,
  };
}

/**
 * Streaming decoder: push chunks with any boundaries, take frames with `next()`.
 * A payload inside one chunk is returned as a view (no copy); one that spans
 * chunks is copied once. Protocol errors (wrong version, unknown cmd, UPD in v1,
 * a control frame with the wrong length) throw SyntaxError, as xtaci/smux
 * closes the session on them.
 */
export class SmuxFrameDecoder {
  #version: number;
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first live chunk
  #offset = 0; // read position in chunks[head]
  #buffered = 0;
  #header = new Uint8Array(SMUX_HEADER_SIZE);

  constructor(version: 1 | 2) {
    this.#version = version;
  }

  /** Bytes pushed but not yet returned in a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete frame, or null if more bytes are needed. */
  next(): SmuxFrame | null {
    if (this.#buffered < SMUX_HEADER_SIZE) return null;
    const h = this.#peekHeader();
    const ver = h[0]!;
    const cmd = h[1]!;
    const length = h[2]! | h[3]! << 8;
    const sid = (h[4]! | h[5]! << 8 | h[6]! << 16 | h[7]! << 24) >>> 0;
    if (ver !== this.#version) {
      throw new SyntaxError(`smux frame version ${ver}, want ${this.#version}`);
    }
    switch (cmd) {
      case SMUX_CMD_SYN:
      case SMUX_CMD_FIN:
      case SMUX_CMD_NOP:
        if (length !== 0) throw new SyntaxError(`smux cmd ${cmd} with length ${length}`);
        break;
      case SMUX_CMD_PSH:
        break;
      case SMUX_CMD_UPD:
        if (ver !== 2) throw new SyntaxError("smux UPD frame in protocol version 1");
        if (length !== SMUX_UPD_SIZE) throw new SyntaxError(`smux UPD with length ${length}`);
        break;
      default:
        throw new SyntaxError(`smux unknown cmd ${cmd}`);
    }
    if (this.#buffered < SMUX_HEADER_SIZE + length) return null;
    this.#skip(SMUX_HEADER_SIZE);
    const data = length === 0 ? EMPTY : this.#take(length);
    return { ver, cmd, sid, data };
  }

  #peekHeader(): Uint8Array {
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= SMUX_HEADER_SIZE) {
      return first.subarray(this.#offset, this.#offset + SMUX_HEADER_SIZE);
    }
    const h = this.#header;
    let i = this.#head;
    let off = this.#offset;
    for (let n = 0; n < SMUX_HEADER_SIZE;) {
      const c = this.#chunks[i]!;
      const k = Math.min(c.length - off, SMUX_HEADER_SIZE - n);
      h.set(c.subarray(off, off + k), n);
      n += k;
      i++;
      off = 0;
    }
    return h;
  }

  #skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const c = this.#chunks[this.#head]!;
      const avail = c.length - this.#offset;
      if (n < avail) {
        this.#offset += n;
        return;
      }
      n -= avail;
      this.#dropHead();
    }
  }

  #take(n: number): Uint8Array {
    const c = this.#chunks[this.#head]!;
    const avail = c.length - this.#offset;
    if (n <= avail) {
      const out = c.subarray(this.#offset, this.#offset + n);
      this.#buffered -= n;
      if (n === avail) this.#dropHead();
      else this.#offset += n;
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const cur = this.#chunks[this.#head]!;
      const k = Math.min(cur.length - this.#offset, n - filled);
      out.set(cur.subarray(this.#offset, this.#offset + k), filled);
      filled += k;
      this.#skip(k);
    }
    return out;
  }

  #dropHead(): void {
    this.#chunks[this.#head] = EMPTY;
    this.#head++;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
