import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { ClientID, TOKEN } from "./client_id.ts";

Deno.test("codec: the Turbo Tunnel token is 12 93 60 5d 27 81 75 f5", () => {
  assertEquals([...TOKEN], [0x12, 0x93, 0x60, 0x5d, 0x27, 0x81, 0x75, 0xf5]);
});

Deno.test("codec: ClientID is 8 bytes, an Addr with hex string form", () => {
  const id = new ClientID(new Uint8Array([0, 1, 2, 0xab, 0xcd, 0xef, 0x10, 0xff]));
  assertEquals(id.network, "clientid");
  assertEquals(id.toString(), "000102abcdef10ff");
  assertEquals(`${id}`, id.hex);
  assert(ClientID.fromHex("000102ABCDEF10FF").equals(id));
  const r = ClientID.random();
  assertEquals(r.bytes.length, 8);
  assert(!r.equals(ClientID.random()));
  assertThrows(() => new ClientID(new Uint8Array(7)), RangeError, "7");
  assertThrows(() => ClientID.fromHex("xyz"), SyntaxError, "xyz");
});
