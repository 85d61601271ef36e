import { assert, assertEquals, assertThrows } from "../../lib/testing/assert.ts";
import { parseProxyFlags } from "../../proxy/relay/flags.ts";
import { relayRefusal } from "../../proxy/relay/safeguards.ts";
import { goDuration, parseGoDuration } from "../../proxy/relay/stats.ts";

const strict = {
  allowedHostPattern: "snowflake.torproject.net$",
  allowPrivateAddresses: false,
  allowNonTLS: false,
};

Deno.test("safety: relay URLs are checked for scheme, TLS, private addresses and the pattern", () => {
  assertEquals(relayRefusal("wss://snowflake.torproject.net/", strict), null);
  assertEquals(
    relayRefusal("wss://01.snowflake.torproject.net:8443/x", {
      ...strict,
      allowedHostPattern: "snowflake.torproject.net:8443$",
    }),
    null,
  );
  const lan = { ...strict, allowedHostPattern: "^10.77.0.1$", allowPrivateAddresses: true };
  assertEquals(relayRefusal("wss://10.77.0.1:8080/", lan), null);
  assert(relayRefusal("wss://10.77.0.10:8080/", lan)?.includes("does not match"));
  assert(relayRefusal("ws://snowflake.torproject.net/", strict)?.includes("not TLS"));
  assert(relayRefusal("https://snowflake.torproject.net/", strict)?.includes("not a WebSocket"));
  assert(relayRefusal("wss://evil.example/", strict)?.includes("does not match"));
  assert(
    relayRefusal("wss://snowflake.torproject.net.evil.example/", strict)?.includes(
      "does not match",
    ),
  );
  assert(
    relayRefusal("wss://snowflake.torproject.net/", {
      ...strict,
      allowedHostPattern: "^torproject.net$",
    })?.includes("does not match"),
  );
  const any = { ...strict, allowedHostPattern: "$" };
  for (
    const host of [
      "10.0.0.1",
      "127.0.0.1",
      "192.168.1.1",
      "172.16.5.4",
      "169.254.0.1",
      "[::1]",
      "[fd00::1]",
      "[fe80::1]",
      "localhost",
      "0.0.0.0",
      "[::ffff:10.0.0.1]",
    ]
  ) {
    assert(relayRefusal(`wss://${host}/`, any)?.includes("private address"), host);
    assertEquals(
      relayRefusal(`wss://${host}/`, { ...any, allowPrivateAddresses: true }),
      null,
      host,
    );
  }
  assertEquals(relayRefusal("ws://198.18.0.1:8080/", { ...any, allowNonTLS: true }), null);
  assert(relayRefusal("not a url", strict)?.includes("not a URL"));
});

Deno.test("proxy: flags take Go's names with one dash or two, and Go durations", () => {
  const f = parseProxyFlags([
    "-broker",
    "http://b.example/",
    "--capacity",
    "3",
    "-allow-non-tls-relay",
    "-allowed-relay-hostname-pattern",
    "^relay.example$",
    "-ephemeral-ports-range",
    "50000:50100",
    "-nat-retest-interval",
    "0s",
    "-summary-interval",
    "1h30m",
    "-stun",
    "",
    "-metrics",
    "-metrics-port",
    "9000",
  ]);
  assertEquals(f.config.brokerURL, "http://b.example/");
  assertEquals(f.config.capacity, 3);
  assertEquals(f.config.policy, {
    allowedHostPattern: "^relay.example$",
    allowNonTLS: true,
    allowPrivateAddresses: false,
  });
  assertEquals(f.config.portRange, { min: 50000, max: 50100 });
  assertEquals(f.config.natRetestIntervalMs, 0);
  assertEquals(f.config.summaryIntervalMs, 5_400_000);
  assertEquals(f.config.stunURLs, []);
  assertEquals(f.metrics, { hostname: "localhost", port: 9000 });
  assertEquals(parseProxyFlags([]).config.policy.allowedHostPattern, "snowflake.torproject.net$");
  assertThrows(
    () => parseProxyFlags(["-allowed-relay-hostname-pattern", "no-dollar"]),
    SyntaxError,
  );
  assertThrows(() => parseProxyFlags(["-ephemeral-ports-range", "9:1"]), RangeError);
  assertThrows(() => parseProxyFlags(["-poll-interval", "1s"]), RangeError);
  assertThrows(() => parseProxyFlags(["-capacity", "-1"]));
  assertThrows(() => parseProxyFlags(["-no-such-flag"]));
});

Deno.test("proxy: Go durations parse and print as Go's time.Duration does", () => {
  assertEquals(parseGoDuration("24h"), 86_400_000);
  assertEquals(parseGoDuration("1h0m0s"), 3_600_000);
  assertEquals(parseGoDuration("1.5s"), 1500);
  assertEquals(parseGoDuration("250ms"), 250);
  assertThrows(() => parseGoDuration("5"), SyntaxError);
  assertThrows(() => parseGoDuration(""), SyntaxError);
  assertEquals(goDuration(3_600_000), "1h0m0s");
  assertEquals(goDuration(90_000), "1m30s");
  assertEquals(goDuration(2000), "2s");
});
