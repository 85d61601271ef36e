/** `flags:` the client's command line takes Go's forms (-flag, --flag, -flag=v, -flag v). */
import { assertEquals, assertThrows } from "../../lib/testing/assert.ts";
import { FlagError, HelpRequested, parseClientFlags } from "../../client/flags.ts";

Deno.test("flags: a torrc line written for the Go client parses unchanged", () => {
  const f = parseClientFlags([
    "-url",
    "https://snowflake-broker.torproject.net/",
    "-ampcache",
    "https://cdn.ampproject.org/",
    "-front",
    "www.google.com",
    "-ice",
    "stun:stun.l.google.com:19302,stun:stun.antisip.com:3478",
    "-log",
    "/var/log/tor/snowflake-client.log",
    "-keep-local-addresses",
    "--max=3",
    "--unsafe-logging=false",
  ]);
  assertEquals(f.config.brokerUrl, "https://snowflake-broker.torproject.net/");
  assertEquals(f.config.ampCacheUrl, "https://cdn.ampproject.org/");
  assertEquals(f.config.fronts, ["www.google.com"]);
  assertEquals(f.config.ice.length, 2);
  assertEquals(f.config.max, 3);
  assertEquals(f.config.keepLocalAddresses, true);
  assertEquals(f.unsafeLogging, false);
  assertEquals(f.log, "/var/log/tor/snowflake-client.log");
});

Deno.test("flags: --fronts wins over --front; deprecated spellings still work", () => {
  const f = parseClientFlags([
    "--front",
    "a",
    "--fronts",
    "b,c",
    "-logToStateDir",
    "-keepLocalAddresses",
  ]);
  assertEquals(f.config.fronts, ["b", "c"]);
  assertEquals(f.logToStateDir, true);
  assertEquals(f.config.keepLocalAddresses, true);
});

Deno.test("flags: parsing stops at the first non-flag, like Go", () => {
  const f = parseClientFlags(["-url", "https://b/", "utls-imitate=x", "-max", "2"]);
  assertEquals(f.rest, ["utls-imitate=x", "-max", "2"]);
  assertEquals(f.config.max, 1);
});

Deno.test("flags: unknown flags, missing values and bad numbers are errors", () => {
  assertThrows(() => parseClientFlags(["-nope"]), FlagError, "not defined");
  assertThrows(() => parseClientFlags(["-url"]), FlagError, "needs an argument");
  assertThrows(() => parseClientFlags(["-max", "x"]), FlagError, "-max");
  assertThrows(() => parseClientFlags(["-unsafe-logging=maybe"]), FlagError, "boolean");
  assertThrows(() => parseClientFlags(["--impersonate-profile", "safari"]), FlagError, "chrome");
});

Deno.test("flags: -h and -help ask for the usage", () => {
  assertThrows(() => parseClientFlags(["-h"]), HelpRequested);
  assertThrows(() => parseClientFlags(["--help"]), HelpRequested);
});
