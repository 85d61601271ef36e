import { assert, assertEquals } from "../testing/assert.ts";
import { isLocalAddress, remoteIPFromSDP, stripLocalCandidates } from "./webrtc.ts";

const SDP = [
  "v=0",
  "o=- 1 2 IN IP4 127.0.0.1",
  "c=IN IP4 0.0.0.0",
  "a=candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0",
  "a=candidate:2 1 udp 2122260223 192.168.1.4 5001 typ host generation 0",
  "a=candidate:3 1 udp 2122260223 fd00::5 5002 typ host generation 0",
  "a=candidate:4 1 udp 2122260223 abcd.local 5003 typ host generation 0",
  "a=candidate:5 1 udp 1686052607 203.0.113.9 5004 typ srflx raddr 10.0.0.2 rport 5001",
  "a=candidate:6 1 tcp 1518280447 2001:db8::7 9 typ host tcptype passive",
  "a=end-of-candidates",
  "",
].join("\r\n");

Deno.test("webrtc: local addresses are those Go's proxy and client treat as local", () => {
  for (
    const ip of [
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.1",
      "192.168.0.1",
      "100.64.0.1",
      "169.254.1.1",
      "127.0.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fd00::1",
      "fc00::1",
      "fe80::1%eth0",
      "::ffff:10.0.0.1",
      "::ffff:a00:1",
      "[fd00::2]",
    ]
  ) {
    assert(isLocalAddress(ip), ip);
  }
  for (
    const ip of [
      "8.8.8.8",
      "172.32.0.1",
      "100.128.0.1",
      "198.18.0.1",
      "2001:db8::1",
      "snowflake.torproject.net",
      "::ffff:8.8.8.8",
      "::ffff:808:808",
    ]
  ) {
    assert(!isLocalAddress(ip), ip);
  }
});

Deno.test("webrtc: stripping keeps only candidates a remote peer can reach, byte for byte", () => {
  const stripped = stripLocalCandidates(SDP);
  const kept = stripped.split("\r\n").filter((l) => l.startsWith("a=candidate:"));
  assertEquals(kept.map((l) => l.split(" ")[0]), ["a=candidate:5", "a=candidate:6"]);
  assert(stripped.includes("a=end-of-candidates\r\n"));
  assertEquals(
    stripLocalCandidates(SDP.replaceAll("\r\n", "\n")),
    stripped.replaceAll("\r\n", "\n"),
  );
});

Deno.test("webrtc: the client's IP is its first public candidate, else a public c= line", () => {
  assertEquals(remoteIPFromSDP(SDP), "203.0.113.9");
  assertEquals(remoteIPFromSDP("v=0\r\nc=IN IP4 203.0.113.1\r\n"), "203.0.113.1");
  assertEquals(remoteIPFromSDP("v=0\nc=IN IP6 2001:db8::2\n"), "2001:db8::2");
  assertEquals(
    remoteIPFromSDP(stripLocalCandidates(SDP).replace(/a=candidate:[56].*\r\n/g, "")),
    null,
  );
});
