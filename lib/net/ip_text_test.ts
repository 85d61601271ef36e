import { assertEquals } from "../testing/assert.ts";
import { formatIpv6, parseIpv4, parseIpv6 } from "./ip_text.ts";

Deno.test("ip_text: IPv6 text round-trips in Deno's own form (RFC 5952, IPv4-mapped dotted)", () => {
  for (
    const [text, canonical] of [
      ["fd31::1", "fd31::1"],
      ["FD31:0:0:0:0:0:0:1", "fd31::1"],
      ["::", "::"],
      ["::1", "::1"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
      ["fe80::", "fe80::"],
      ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
      ["::ffff:a00:1", "::ffff:10.0.0.1"],
      ["64:ff9b::10.0.0.1", "64:ff9b::a00:1"],
    ]
  ) {
    const b = parseIpv6(text!);
    assertEquals(b === null ? null : formatIpv6(b), canonical, text);
  }
  for (const bad of ["10.0.0.1", "fd31::1::2", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "g::1", ""]) {
    assertEquals(parseIpv6(bad), null, bad);
  }
  assertEquals(parseIpv4("10.0.0.256"), null);
  assertEquals(parseIpv4("10.0.0.1"), 0x0a000001);
});
