import { assertEquals } from "../lib/testing/assert.ts";
import { CLIENT_IP_CAPACITY, clientIpFromUrl, ClientIPs } from "./client_ips.ts";

Deno.test("bounds: client_ip drops unspecified addresses and unmaps IPv4-mapped IPv6", () => {
  const cases: [string, string | null][] = [
    ["192.0.2.7", "192.0.2.7"],
    ["2001:DB8:0:0::7", "2001:db8::7"],
    ["::ffff:198.51.100.9", "198.51.100.9"],
    ["::FFFF:c633:6409", "198.51.100.9"],
    ["0.0.0.0", null],
    ["::", null],
    ["0:0:0:0:0:0:0:0", null],
    ["::ffff:0.0.0.0", null],
    ["", null],
    ["example.com", null],
    ["1.2.3.4:5", null],
    ["[2001:db8::1]", null],
    ["fe80::1%25eth0", null],
    ["01.2.3.4", null],
  ];
  for (const [param, want] of cases) {
    const url = `ws://127.0.0.1/?client_ip=${encodeURIComponent(param)}`;
    assertEquals(clientIpFromUrl(url), want, param);
  }
  assertEquals(clientIpFromUrl("ws://127.0.0.1/"), null);
  assertEquals(clientIpFromUrl("not a url"), null);
});

Deno.test("bounds: the ClientID to IP table holds at most its capacity, forgetting the oldest", () => {
  const ips = new ClientIPs();
  for (let i = 0; i < CLIENT_IP_CAPACITY * 3; i++) {
    ips.set(`id${i}`, `ip${i}`);
  }
  assertEquals(ips.size, CLIENT_IP_CAPACITY);
  assertEquals(ips.get("id0"), undefined);
  assertEquals(ips.get(`id${CLIENT_IP_CAPACITY * 3 - 1}`), `ip${CLIENT_IP_CAPACITY * 3 - 1}`);
  const small = new ClientIPs(2);
  small.set("a", "1");
  small.set("b", "2");
  small.set("a", "3");
  small.set("c", "4");
  assertEquals([small.get("a"), small.get("b"), small.get("c")], ["3", undefined, "4"]);
});
