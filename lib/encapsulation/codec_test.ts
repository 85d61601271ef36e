import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import {
  encodePacket,
  encodePadding,
  MAX_PACKET_LENGTH,
  PacketDecoder,
  prefixLength,
} from "./codec.ts";
import { concatBytes } from "../net/bytes.ts";

function prefixOf(n: number): number[] {
  const e = encodePacket(new Uint8Array(n));
  return [...e.subarray(0, e.length - n)];
}

function decodeAll(bytes: Uint8Array, split = bytes.length): Uint8Array[] {
  const d = new PacketDecoder();
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += Math.max(1, split)) {
    d.push(bytes.slice(i, i + Math.max(1, split)));
    for (let p = d.next(); p; p = d.next()) out.push(p);
  }
  d.end();
  for (let p = d.next(); p; p = d.next()) out.push(p);
  return out;
}

Deno.test("codec: minimal data prefixes at the length boundaries", () => {
  assertEquals(prefixOf(0), [0x80]);
  assertEquals(prefixOf(1), [0x81]);
  assertEquals(prefixOf(63), [0xbf]);
  assertEquals(prefixOf(64), [0xc0, 0x40]);
  assertEquals(prefixOf(1400), [0xca, 0x78]);
  assertEquals(prefixOf(8191), [0xff, 0x7f]);
  assertEquals(prefixOf(8192), [0xc0, 0xc0, 0x00]);
  assertEquals(prefixOf(MAX_PACKET_LENGTH), [0xff, 0xff, 0x7f]);
  assertEquals([prefixLength(63), prefixLength(64), prefixLength(8191), prefixLength(8192)], [
    1,
    2,
    2,
    3,
  ]);
});

Deno.test("codec: encodes prefix and data in one buffer", () => {
  assertEquals([...encodePacket(new Uint8Array([0xde, 0xad]))], [0x82, 0xde, 0xad]);
});

Deno.test("codec: rejects a packet longer than 0xFFFFF with RangeError", () => {
  assertThrows(() => encodePacket(new Uint8Array(MAX_PACKET_LENGTH + 1)), RangeError, "1048576");
});

Deno.test("codec: round-trips the boundary lengths, whole and split byte by byte", () => {
  for (const n of [0, 1, 63, 64, 8191, 8192, 70000]) {
    const data = new Uint8Array(n).map((_, i) => i * 7);
    for (const split of [1, 3, 1000, Infinity]) {
      const got = decodeAll(encodePacket(data), split === Infinity ? 1 << 30 : split);
      assertEquals(got.length, 1);
      assertEquals(got[0], data);
    }
  }
  const big = new Uint8Array(MAX_PACKET_LENGTH).fill(0x5a);
  const got = decodeAll(encodePacket(big), 65536);
  assertEquals(got[0]!.length, MAX_PACKET_LENGTH);
  assert(got[0]!.every((b) => b === 0x5a));
});

Deno.test("codec: accepts non-minimal prefixes", () => {
  // 4 encoded with a 2-byte and a 3-byte prefix.
  const got = decodeAll(new Uint8Array([0xc0, 0x04, 1, 2, 3, 4, 0xc0, 0x80, 0x01, 9]));
  assertEquals(got, [new Uint8Array([1, 2, 3, 4]), new Uint8Array([9])]);
});

Deno.test("codec: padding has exact total sizes and is skipped", () => {
  assertEquals([...encodePadding(1)], [0x00]);
  assertEquals([...encodePadding(3)], [0x02, 0, 0]);
  assertEquals([...encodePadding(65).subarray(0, 2)], [0x40, 0x3f]);
  for (const n of [0, 1, 2, 63, 64, 65, 66, 1023, 1024, 1025, 1026, 5000]) {
    const pad = encodePadding(n);
    assertEquals(pad.length, n);
    const stream = concatBytes([pad, encodePacket(new Uint8Array([n & 0xff])), pad]);
    assertEquals(decodeAll(stream, 7), [new Uint8Array([n & 0xff])]);
  }
  // A 3-byte padding prefix is valid too.
  assertEquals(decodeAll(new Uint8Array([0x40, 0x80, 0x01, 0xee, 0x81, 7])), [
    new Uint8Array([7]),
  ]);
});

Deno.test("codec: EOF inside a prefix or a body is SyntaxError unexpected EOF", () => {
  for (const bytes of [[0xc0], [0xc0, 0x80], [0x83, 1, 2], [0x05, 0]]) {
    const d = new PacketDecoder();
    d.push(new Uint8Array(bytes));
    assert(d.midChunk);
    assertThrows(() => d.end(), SyntaxError, "unexpected EOF");
    assertThrows(() => d.next(), SyntaxError, "unexpected EOF");
  }
});

Deno.test("codec: EOF at a chunk boundary is clean", () => {
  const d = new PacketDecoder();
  d.push(concatBytes([encodePacket(new Uint8Array([1])), encodePadding(10)]));
  d.end();
  assertEquals(d.next(), new Uint8Array([1]));
  assertEquals(d.next(), null);
});

Deno.test("codec: a 4th prefix byte is a SyntaxError after the packets before it", () => {
  const d = new PacketDecoder();
  d.push(
    concatBytes([encodePacket(new Uint8Array([42])), new Uint8Array([0xc0, 0x80, 0x80, 0x00])]),
  );
  assertEquals(d.next(), new Uint8Array([42]));
  assertThrows(() => d.next(), SyntaxError, "longer than 3 bytes");
  d.push(encodePacket(new Uint8Array([1])));
  assertThrows(() => d.next(), SyntaxError);
});

Deno.test("codec: many small packets in one chunk are views, not copies", () => {
  const parts = Array.from({ length: 100 }, (_, i) => encodePacket(new Uint8Array([i, i])));
  const chunk = concatBytes(parts);
  const d = new PacketDecoder();
  d.push(chunk);
  for (let i = 0; i < 100; i++) {
    const p = d.next()!;
    assertEquals(p, new Uint8Array([i, i]));
    assert(p.buffer === chunk.buffer);
  }
  assertEquals(d.next(), null);
});
