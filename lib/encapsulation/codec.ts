/**
 * Snowflake's encapsulation: variable-size packets and padding over a byte stream
 * (docs/PROTOCOL.md §2).
 *
 * Each chunk is a 1–3 byte length prefix then that many bytes. The first prefix byte is
 * `d c xxxxxx` (d=1 data, d=0 padding; c=1 another prefix byte follows); continuation bytes
 * are `c yyyyyyy`. Value bits are concatenated big-endian, so the largest length is 0xFFFFF.
 *
 * @module
 */

// Spec constants (docs/PROTOCOL.md §2).
/** Largest length a 3-byte prefix can carry. */
export const MAX_PACKET_LENGTH = 0xfffff;
const DATA_BIT = 0x80;
const FIRST_MORE_BIT = 0x40;
const FIRST_VALUE_MASK = 0x3f;
const NEXT_MORE_BIT = 0x80;
const NEXT_VALUE_MASK = 0x7f;
const MAX_PREFIX_BYTES = 3;

// Implementation constants.
/** Padding is written in chunks of at most this many bytes (upstream uses the same size). */
const PADDING_CHUNK = 1024;

/** Number of prefix bytes the minimal encoding of `n` needs. */
export function prefixLength(n: number): 1 | 2 | 3 {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PACKET_LENGTH) {
    throw new RangeError(`encapsulation length ${n} is outside 0..${MAX_PACKET_LENGTH}`);
  }
  if (n <= 0x3f) return 1;
  if (n <= 0x1fff) return 2;
  return 3;
}

/** Writes a `len`-byte prefix for `n` at `out[o]` (padding may use a longer one than minimal). */
function writePrefix(
  out: Uint8Array,
  o: number,
  n: number,
  data: boolean,
  len = prefixLength(n),
): number {
  const d = data ? DATA_BIT : 0;
  if (len === 1) {
    out[o] = d | n;
  } else if (len === 2) {
    out[o] = d | FIRST_MORE_BIT | (n >>> 7);
    out[o + 1] = n & NEXT_VALUE_MASK;
  } else {
    out[o] = d | FIRST_MORE_BIT | (n >>> 14);
    out[o + 1] = NEXT_MORE_BIT | ((n >>> 7) & NEXT_VALUE_MASK);
    out[o + 2] = n & NEXT_VALUE_MASK;
  }
  return len;
}

/**
 * Encodes one data packet into `out` at `o` (minimal prefix + data) and returns the bytes
 * written; `out` needs room for `data.length + 3`. For writers that pack many packets into
 * one buffer.
 */
export function encodePacketInto(out: Uint8Array, o: number, data: Uint8Array): number {
  const p = writePrefix(out, o, data.length, true);
  out.set(data, o + p);
  return p + data.length;
}

/** Encodes one data packet: minimal prefix + data, in one new buffer. */
export function encodePacket(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefixLength(data.length) + data.length);
  encodePacketInto(out, 0, data);
  return out;
}

/**
 * Encodes padding chunks whose total size, prefixes included, is exactly `n` bytes.
 * Readers skip them. Upstream never sends padding; this exists for completeness and tests.
 */
export function encodePadding(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`padding size ${n} is invalid`);
  const out = new Uint8Array(n); // padding bytes stay zero
  let pos = 0;
  while (pos < n) {
    const total = Math.min(PADDING_CHUNK, n - pos);
    // The prefix eats into the chunk's budget. A 65-byte chunk needs a non-minimal 2-byte
    // prefix for 63 bytes (legal; readers accept any prefix up to 3 bytes).
    const prefix = total - 1 <= FIRST_VALUE_MASK ? 1 : 2;
    const body = total - prefix;
    pos += writePrefix(out, pos, body, false, prefix) + body;
  }
  return out;
}

/** Decoder states. */
const enum State {
  Prefix,
  Body,
}

/** Options for {@link PacketDecoder}. */
export interface PacketDecoderOptions {
  /**
   * Largest chunk (data or padding) accepted. A longer length prefix is a fault as soon as
   * the prefix is complete, before any of its body is buffered. Default
   * {@link MAX_PACKET_LENGTH}.
   */
  maxLength?: number;
}

/**
 * Streaming decoder: `push` byte chunks split anywhere, `next` yields whole data packets
 * (padding skipped). Malformed input does not throw from `push`; `next` returns the packets
 * decoded before the fault and then throws the SyntaxError. Bytes are copied only when a
 * packet spans chunks; otherwise `next` returns a view into the pushed chunk, so callers
 * must not reuse a chunk after pushing it.
 */
export class PacketDecoder {
  #out: Uint8Array[] = [];
  #outHead = 0;
  #error: SyntaxError | null = null;
  #ended = false;

  #state = State.Prefix;
  #prefixBytes = 0;
  #length = 0;
  #isData = false;
  /** Body of a data packet that spans chunks; null while skipping padding. */
  #body: Uint8Array | null = null;
  #filled = 0;
  readonly #maxLength: number;

  constructor(options: PacketDecoderOptions = {}) {
    this.#maxLength = options.maxLength ?? MAX_PACKET_LENGTH;
  }

  /** Feeds bytes. Ignored after an error or after {@link end}. */
  push(chunk: Uint8Array): void {
    if (this.#error || this.#ended) return;
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.#state === State.Prefix) {
        const b = chunk[pos++]!;
        let more: boolean;
        if (this.#prefixBytes === 0) {
          this.#isData = (b & DATA_BIT) !== 0;
          more = (b & FIRST_MORE_BIT) !== 0;
          this.#length = b & FIRST_VALUE_MASK;
        } else {
          more = (b & NEXT_MORE_BIT) !== 0;
          this.#length = (this.#length << 7) | (b & NEXT_VALUE_MASK);
        }
        this.#prefixBytes++;
        if (more) {
          if (this.#prefixBytes >= MAX_PREFIX_BYTES) {
            this.#error = new SyntaxError(
              `encapsulation length prefix is longer than ${MAX_PREFIX_BYTES} bytes`,
            );
            return;
          }
          continue;
        }
        this.#prefixBytes = 0;
        if (this.#length > this.#maxLength) {
          this.#error = new SyntaxError(
            `encapsulated chunk of ${this.#length} bytes is longer than ${this.#maxLength}`,
          );
          return;
        }
        if (this.#length === 0) {
          if (this.#isData) this.#emit(new Uint8Array(0));
          continue;
        }
        const avail = n - pos;
        if (this.#isData && avail >= this.#length) {
          // Whole packet inside this chunk: hand out a view, no copy.
          this.#emit(chunk.subarray(pos, pos + this.#length));
          pos += this.#length;
          continue;
        }
        if (!this.#isData && avail >= this.#length) {
          pos += this.#length;
          continue;
        }
        this.#state = State.Body;
        this.#body = this.#isData ? new Uint8Array(this.#length) : null;
        this.#filled = 0;
      } else {
        const take = Math.min(this.#length - this.#filled, n - pos);
        this.#body?.set(chunk.subarray(pos, pos + take), this.#filled);
        this.#filled += take;
        pos += take;
        if (this.#filled === this.#length) {
          if (this.#body) this.#emit(this.#body);
          this.#body = null;
          this.#state = State.Prefix;
        }
      }
    }
  }

  /** The next decoded data packet, or null if none is complete yet. Throws after a fault. */
  next(): Uint8Array | null {
    if (this.#outHead < this.#out.length) {
      const p = this.#out[this.#outHead]!;
      this.#out[this.#outHead++] = EMPTY;
      if (this.#outHead === this.#out.length) {
        this.#out = [];
        this.#outHead = 0;
      }
      return p;
    }
    if (this.#error) throw this.#error;
    return null;
  }

  /** True while bytes of an unfinished chunk are buffered. */
  get midChunk(): boolean {
    return this.#state === State.Body || this.#prefixBytes > 0;
  }

  /**
   * Marks end of input. Throws SyntaxError "unexpected EOF" if the stream stopped inside a
   * chunk; packets decoded before that stay available from {@link next}.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#error || !this.midChunk) return;
    this.#error = new SyntaxError(
      this.#state === State.Body
        ? `unexpected EOF: ${this.#filled} of ${this.#length} bytes of an encapsulated chunk`
        : `unexpected EOF: inside an encapsulation length prefix`,
    );
    this.#body = null;
    throw this.#error;
  }

  #emit(p: Uint8Array): void {
    this.#out.push(p);
  }
}

const EMPTY = new Uint8Array(0);
