import { assertEquals, assertThrows } from "../testing/assert.ts";
import { CMD_ACK, CMD_PUSH, decodePacket, encodeSegment } from "./segment.ts";
import { crc32, openNone, sealNone } from "./crypt.ts";

const PUSH_HI = [
  ...[0x44, 0x33, 0x22, 0x11], // conv 0x11223344
  0x51, // cmd PUSH (81)
  0x02, // frg
  ...[0x02, 0x01], // wnd 0x0102
  ...[0xdd, 0xcc, 0xbb, 0xaa], // ts
  ...[0x05, 0x00, 0x00, 0x00], // sn 5
  ...[0x03, 0x00, 0x00, 0x00], // una 3
  ...[0x02, 0x00, 0x00, 0x00], // len 2
  0x68, // "h"
  0x69, // "i"
];

Deno.test("codec: encodes a PUSH segment to the known little-endian bytes", () => {
  const bytes = encodeSegment({
    conv: 0x11223344,
    cmd: CMD_PUSH,
    frg: 2,
    wnd: 0x0102,
    ts: 0xaabbccdd,
    sn: 5,
    una: 3,
    data: new TextEncoder().encode("hi"),
  });
  assertEquals([...bytes], PUSH_HI);
});

Deno.test("codec: decodes several segments sharing one packet", () => {
  const ack = encodeSegment({
    conv: 0x11223344,
    cmd: CMD_ACK,
    frg: 0,
    wnd: 65535,
    ts: 7,
    sn: 0xfffffffe,
    una: 0x80000000,
    data: new Uint8Array(0),
  });
  assertEquals(
    [...ack],
    [
      0x44,
      0x33,
      0x22,
      0x11,
      0x52,
      0,
      0xff,
      0xff,
      7,
      0,
      0,
      0,
      0xfe,
      0xff,
      0xff,
      0xff,
      0,
      0,
      0,
      0x80,
      0,
      0,
      0,
      0,
    ],
  );
  const packet = new Uint8Array([...PUSH_HI, ...ack]);
  const segs = decodePacket(packet);
  assertEquals(segs.length, 2);
  assertEquals(segs[0]!.cmd, CMD_PUSH);
  assertEquals(segs[0]!.ts, 0xaabbccdd);
  assertEquals(new TextDecoder().decode(segs[0]!.data), "hi");
  assertEquals(segs[1]!.sn, 0xfffffffe);
  assertEquals(segs[1]!.una, 0x80000000);
});

Deno.test("codec: rejects truncated headers, overlong lengths and unknown commands", () => {
  assertThrows(() => decodePacket(new Uint8Array(PUSH_HI.slice(0, 23))), SyntaxError, "truncated");
  assertThrows(() => decodePacket(new Uint8Array(PUSH_HI.slice(0, 25))), SyntaxError, "exceeds");
  const bad = new Uint8Array(PUSH_HI);
  bad[4] = 80;
  assertThrows(() => decodePacket(bad), SyntaxError, "unknown KCP command 80");
});

Deno.test("codec: CRC32-IEEE known answer", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assertEquals(crc32(new Uint8Array(0)), 0);
});

Deno.test("codec: crypt none framing is nonce, LE CRC32 of the rest, then the segments", () => {
  const packet = new Uint8Array(20 + 9);
  packet.set(new TextEncoder().encode("123456789"), 20);
  sealNone(packet);
  assertEquals([...packet.subarray(16, 20)], [0x26, 0x39, 0xf4, 0xcb]);
  assertEquals(new TextDecoder().decode(openNone(packet)!), "123456789");
  const second = new Uint8Array(29);
  second.set(packet.subarray(20), 20);
  sealNone(second);
  // Fresh random nonce per packet.
  assertEquals(packet.subarray(0, 16).join() === second.subarray(0, 16).join(), false);
  packet[25] = packet[25]! ^ 1;
  assertEquals(openNone(packet), null);
  assertEquals(openNone(new Uint8Array(19)), null);
});
