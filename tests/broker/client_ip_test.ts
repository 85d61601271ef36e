// Where a request comes from behind a front (proxy/broker/http.ts clientIp), as Go's
// realclientip chain: leftmost public Forwarded for=, then X-Forwarded-For, then the peer.
import { assertEquals } from "../../lib/testing/assert.ts";
import { clientIp } from "../../proxy/broker/http.ts";
import type { HttpRequest } from "../../proxy/broker/http1.ts";

function req(headers: Record<string, string>): HttpRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method: "POST",
    target: "/proxy",
    body: "",
    signal: new AbortController().signal,
    header: (name) => lower[name.toLowerCase()] ?? null,
  };
}

Deno.test("broker: the client address is the leftmost public forwarded one, else the peer", () => {
  assertEquals(clientIp(req({}), "192.0.2.9"), "192.0.2.9");
  assertEquals(
    clientIp(req({ "X-Forwarded-For": "10.0.0.1, 203.0.113.7, 198.51.100.2" }), "127.0.0.1"),
    "203.0.113.7",
  );
  assertEquals(
    clientIp(req({ "X-Forwarded-For": "203.0.113.7:4444" }), "127.0.0.1"),
    "203.0.113.7",
  );
  assertEquals(clientIp(req({ "X-Forwarded-For": "2001:db8::1" }), "127.0.0.1"), "2001:db8::1");
  assertEquals(
    clientIp(
      req({
        Forwarded: 'for=192.168.1.1, for="[2001:db8:cafe::17]:4711"',
        "X-Forwarded-For": "203.0.113.7",
      }),
      "127.0.0.1",
    ),
    "2001:db8:cafe::17",
  );
  assertEquals(
    clientIp(req({ "X-Forwarded-For": "garbage, 127.0.0.1" }), "192.0.2.9"),
    "192.0.2.9",
  );
});
