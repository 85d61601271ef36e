import { encodePacket } from "../encapsulation/mod.ts";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { CarrierError, CarrierParser, encodeCarrierHeader } from "./carrier_parser.ts";
import { ClientID, TOKEN } from "./client_id.ts";

/** Feeds `bytes` one byte at a time and collects the packets. */
function feedBytewise(parser: CarrierParser, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bytes) {
    parser.push(new Uint8Array([b]));
    for (let p = parser.next(); p !== null; p = parser.next()) out.push(p.slice());
  }
  return out;
}

Deno.test("codec: carrier header is the token then the ClientID, parsed split anywhere", () => {
  const id = ClientID.fromHex("0102030405060708");
  assertEquals([...encodeCarrierHeader(id)], [...TOKEN, 1, 2, 3, 4, 5, 6, 7, 8]);
  const parser = new CarrierParser();
  const wire = new Uint8Array([...encodeCarrierHeader(id), ...encodePacket(new Uint8Array([9]))]);
  assertEquals(feedBytewise(parser, wire), [new Uint8Array([9])]);
  assertEquals(parser.clientId?.hex, "0102030405060708");
  parser.end();
});

Deno.test("codec: a wrong token byte is refused as soon as it arrives", () => {
  const parser = new CarrierParser();
  parser.push(new Uint8Array([0x12, 0x93]));
  const e = assertThrows(() => parser.push(new Uint8Array([0x61])), CarrierError, "byte 2: 0x61");
  assertEquals((e as CarrierError).fault, "badToken");
});

Deno.test("codec: EOF inside the header or a packet is a fault; before any byte it is not", () => {
  const half = new CarrierParser();
  half.push(TOKEN);
  assertThrows(() => half.end(), CarrierError, "unexpected EOF");
  new CarrierParser().end();
  const mid = new CarrierParser({ header: false });
  mid.push(encodePacket(new Uint8Array(10)).subarray(0, 5));
  assertThrows(() => mid.end(), CarrierError, "unexpected EOF");
});

Deno.test("codec: an oversized length prefix is refused before its body is buffered", () => {
  const parser = new CarrierParser({ header: false, maxLength: 1400 });
  // 0xff 0xff 0x7f declares 1 MiB - 1: refused on the prefix alone.
  const e = assertThrows(
    () => {
      parser.push(new Uint8Array([0xff, 0xff, 0x7f]));
      parser.next();
    },
    CarrierError,
    "longer than 1400",
  );
  assertEquals((e as CarrierError).fault, "oversize");
  const ok = new CarrierParser({ header: false, maxLength: 1400 });
  ok.push(encodePacket(new Uint8Array(1400)));
  assertEquals(ok.next()?.length, 1400);
  assert(!ok.partial);
});

Deno.test("codec: the client side parses packets without a header", () => {
  const parser = new CarrierParser({ header: false });
  assert(parser.ready);
  parser.push(
    new Uint8Array([...encodePacket(new Uint8Array([1])), ...encodePacket(new Uint8Array([2, 3]))]),
  );
  assertEquals(parser.next(), new Uint8Array([1]));
  assertEquals(parser.next(), new Uint8Array([2, 3]));
  assertEquals(parser.next(), null);
  assertEquals(parser.clientId, null);
});
