import { assertEquals } from "../testing/assert.ts";
import { scrub } from "./scrub.ts";
import { Logger } from "./logger.ts";

/** Addresses that must be scrubbed whole: Go Snowflake's safelog good formats, and more. */
const WHOLE = [
  "1.2.3.4",
  "255.255.255.255",
  "1.2.3.4:55",
  "255.255.255.255:65535",
  "1:2:3:4:c:d:e:f",
  "1111:2222:3333:4444:CCCC:DDDD:EEEE:FFFF",
  "[1:2:3:4:c:d:e:f]",
  "[1111:2222:3333:4444:CCCC:DDDD:EEEE:FFFF]",
  "[1:2:3:4:c:d:e:f]:55",
  "[1111:2222:3333:4444:CCCC:DDDD:EEEE:FFFF]:65535",
  "::d:e:f",
  "1:2:3::",
  "1:2:3::d:e:f",
  "1111:2222:3333::DDDD:EEEE:FFFF",
  "[::d:e:f]",
  "[1:2:3::]",
  "[1:2:3::d:e:f]",
  "[1111:2222:3333::DDDD:EEEE:FFFF]",
  "[1:2:3:4:5:6::8]",
  "[1::7:8]",
  "[1::]:58344",
  "[::d:e:f]:55",
  "[1:2:3::]:55",
  "[1:2:3::d:e:f]:55",
  "[1111:2222:3333::DDDD:EEEE:FFFF]:65535",
  "::255.255.255.255",
  "::ffff:255.255.255.255",
  "[::255.255.255.255]",
  "[::ffff:255.255.255.255]",
  "[::255.255.255.255]:65535",
  "[::ffff:255.255.255.255]:65535",
  "[::ffff:0:255.255.255.255]",
  "[2001:db8:3:4::192.0.2.33]",
  "::ffff:192.0.2.1",
  "[::ffff:c000:201]:443",
  "[fe80::1%eth0]:80",
  "::1",
];

/** Whole log lines and what must remain of them. */
const LINES: [string, string][] = [
  [
    "http: TLS handshake error from 129.97.208.23:38310: ",
    "http: TLS handshake error from [scrubbed]: ",
  ],
  [
    "http2: panic serving [2620:101:f000:780:9097:75b1:519f:dbb8]:58344: interface conversion",
    "http2: panic serving [scrubbed]: interface conversion",
  ],
  ["(1:2:3:4:c:d:e:f) {1:2:3:4:c:d:e:f}", "([scrubbed]) {[scrubbed]}"],
  ["v1.2.3.4", "v[scrubbed]"],
  ["host_1.2.3.4 up", "host_[scrubbed] up"],
  ["peer=10.0.0.1:5;next", "peer=[scrubbed];next"],
  ["ip:2001:db8::1 gone", "ip:[scrubbed] gone"],
  ["from 2001:db8::1: closed", "from [scrubbed]: closed"],
  ["client_ip=::ffff:198.51.100.7&x", "client_ip=[scrubbed]&x"],
  ["fe80::1%eth0", "[scrubbed]%eth0"],
  ["a 192.0.2.7,198.51.100.9.", "a [scrubbed],[scrubbed]."],
  ["peer 2001:db8:0:0:1:2:3:4 gone", "peer [scrubbed] gone"],
];

/** Lines that hold no address and must pass unchanged. */
const KEPT = [
  "a=fingerprint:sha-256 33:B6:FA:F6:94:CA:74:61:45:4A:D2:1F:2C:2F:75:8A:D9:EB:23:34:B2:30:E9:1B:2A:A6:A9:E0:44:72:CC:74",
  "at 12:34:56 nothing",
  "at 12:34:56.789 nothing",
  "mac 00:11:22:33:44:55",
  "ratio 1:2 and 3.5 MB",
  "version 2.5.1",
];

Deno.test("bounds: scrub removes every address form of Go's safelog tests, glued and bracketed", () => {
  for (const addr of WHOLE) assertEquals(scrub(addr), "[scrubbed]", addr);
  for (const [line, want] of LINES) assertEquals(scrub(line), want, line);
  for (const line of KEPT) assertEquals(scrub(line), line, line);
  assertEquals(WHOLE.length + LINES.length + KEPT.length >= 30, true);
});

Deno.test("log: logger scrubs unless unsafe", () => {
  const lines: string[] = [];
  new Logger({ write: (l) => lines.push(l), now: () => 0 }).log("client", "10.0.0.1:5");
  new Logger({ write: (l) => lines.push(l), now: () => 0, unsafe: true }).log("10.0.0.1");
  assertEquals(lines, ["1970-01-01 00:00:00 client [scrubbed]", "1970-01-01 00:00:00 10.0.0.1"]);
});
