import { assertEquals, assertThrows } from "../../lib/testing/assert.ts";
import { checkSpoofCidr, checkTarget } from "./target.ts";

Deno.test("tunnel:attack: targets must be loopback or private", () => {
  for (
    const ok of [
      "127.0.0.1:1",
      "10.1.2.3:51820",
      "172.31.1.1:9",
      "192.168.0.1:80",
      "[::1]:5",
      "[fd00::1]:7",
    ]
  ) {
    assertEquals(typeof checkTarget(ok).port, "number");
  }
  for (
    const bad of [
      "8.8.8.8:53",
      "172.32.0.1:1",
      "192.169.0.1:1",
      "[2001:db8::1]:1",
      "example.com:80",
    ]
  ) {
    assertThrows(() => checkTarget(bad), RangeError);
  }
  assertThrows(() => checkTarget("10.0.0.1"), SyntaxError);
});

Deno.test("tunnel:attack: spoofed ranges must lie inside one private block", () => {
  assertEquals(checkSpoofCidr("10.200.0.0/16").prefix, 16);
  assertEquals(checkSpoofCidr("172.20.0.0/16").prefix, 16);
  assertThrows(() => checkSpoofCidr("172.0.0.0/8"), RangeError);
  assertThrows(() => checkSpoofCidr("1.2.3.0/24"), RangeError);
  assertThrows(() => checkSpoofCidr("10.0.0.0/33"), SyntaxError);
});
