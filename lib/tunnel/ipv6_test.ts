import { assertEquals } from "../testing/assert.ts";
import { ipv6Key, parseTunnelIPv6 } from "./ipv6.ts";

Deno.test("codec: IPv6 text parses to 16 bytes, with :: anywhere, and bad text is refused", () => {
  const key = (t: string) => {
    const a = parseTunnelIPv6(t);
    return a ? ipv6Key(a) : null;
  };
  assertEquals(key("fd09::2"), "fd090000000000000000000000000002");
  assertEquals(key("fd09::2/64"), "fd090000000000000000000000000002");
  assertEquals(key("::1"), "00000000000000000000000000000001");
  assertEquals(key("1:2:3:4:5:6:7:8"), "00010002000300040005000600070008");
  assertEquals(key("fe80::"), "fe800000000000000000000000000000");
  for (const bad of ["1:2:3", "1::2::3", "fd09::g", "1:2:3:4:5:6:7:8:9", "10.0.0.1", "12345::1"]) {
    assertEquals(key(bad), null, bad);
  }
});
