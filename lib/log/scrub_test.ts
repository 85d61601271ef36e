import { assertEquals } from "../testing/assert.ts";
import { scrub } from "./scrub.ts";
import { Logger } from "./logger.ts";

Deno.test("codec: scrub removes IPv4 and IPv6 addresses with ports", () => {
  assertEquals(scrub("from 192.0.2.7:443 ok"), "from [scrubbed] ok");
  assertEquals(scrub("from [2001:db8::1]:80 ok"), "from [scrubbed] ok");
  assertEquals(scrub("peer 2001:db8:0:0:1:2:3:4 gone"), "peer [scrubbed] gone");
  assertEquals(scrub("at 12:34:56 nothing"), "at 12:34:56 nothing");
  assertEquals(scrub("fe80::1%eth0"), "[scrubbed]%eth0");
});

Deno.test("codec: logger scrubs unless unsafe", () => {
  const lines: string[] = [];
  new Logger({ write: (l) => lines.push(l), now: () => 0 }).log("client", "10.0.0.1:5");
  new Logger({ write: (l) => lines.push(l), now: () => 0, unsafe: true }).log("10.0.0.1");
  assertEquals(lines, ["1970-01-01 00:00:00 client [scrubbed]", "1970-01-01 00:00:00 10.0.0.1"]);
});
