import { assert } from "../testing/assert.ts";
import { randomBytes, xorshift32 } from "../testing/fuzz.ts";
import { encodePacket, encodePadding, MAX_PACKET_LENGTH, PacketDecoder } from "./codec.ts";

/** A valid stream of data and padding chunks, and the packets it carries. */
function validStream(rand: () => number): { bytes: Uint8Array; packets: Uint8Array[] } {
  const parts: Uint8Array[] = [];
  const packets: Uint8Array[] = [];
  const count = (rand() * 6) | 0;
  for (let i = 0; i < count; i++) {
    if (rand() < 0.2) {
      parts.push(encodePadding((rand() * 80) | 0));
    } else {
      const len = rand() < 0.1 ? 8000 + ((rand() * 400) | 0) : (rand() * 100) | 0;
      const p = randomBytes(rand, len);
      packets.push(p);
      parts.push(encodePacket(p));
    }
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    bytes.set(p, pos);
    pos += p.length;
  }
  return { bytes, packets };
}

function mutate(rand: () => number, b: Uint8Array): Uint8Array {
  const out = b.slice(0, rand() < 0.3 ? (rand() * (b.length + 1)) | 0 : b.length);
  const flips = 1 + ((rand() * 3) | 0);
  for (let i = 0; i < flips && out.length > 0; i++) {
    out[(rand() * out.length) | 0] = (rand() * 256) | 0;
  }
  return out;
}

/** Feeds `bytes` in random splits; returns packets or the typed error. */
function decode(rand: () => number, bytes: Uint8Array): Uint8Array[] | SyntaxError {
  const d = new PacketDecoder();
  const out: Uint8Array[] = [];
  try {
    let pos = 0;
    while (pos < bytes.length) {
      const n = 1 + ((rand() * 64) | 0);
      d.push(bytes.subarray(pos, pos + n));
      pos += n;
      for (let p = d.next(); p; p = d.next()) {
        assert(p.length <= MAX_PACKET_LENGTH);
        out.push(p);
      }
    }
    d.end();
    for (let p = d.next(); p; p = d.next()) out.push(p);
    return out;
  } catch (e) {
    if (e instanceof SyntaxError) return e;
    throw e;
  }
}

function same(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((p, i) => {
    const q = b[i]!;
    return p.length === q.length && p.every((x, j) => x === q[j]);
  });
}

Deno.test("fuzz: 100,000 random and mutated streams into the decoder", () => {
  const rand = xorshift32(0x5eed1);
  let valid = 0, errors = 0;
  for (let i = 0; i < 100_000; i++) {
    const kind = i % 3;
    if (kind === 0) {
      const { bytes, packets } = validStream(rand);
      const got = decode(rand, bytes);
      assert(Array.isArray(got) && same(got, packets), `valid stream ${i} decoded wrongly`);
      valid++;
    } else {
      const bytes = kind === 1
        ? randomBytes(rand, (rand() * 48) | 0)
        : mutate(rand, validStream(rand).bytes);
      const got = decode(rand, bytes);
      if (got instanceof SyntaxError) errors++;
      else valid++;
    }
  }
  assert(valid > 0 && errors > 0, `valid ${valid} errors ${errors}`);
});
