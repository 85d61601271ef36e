/**
 * `bridgelines:` Tor Browser's Snowflake bridge lines, unchanged, go through the same path
 * as tor hands them to the client: the `k=v` pairs become SOCKS5 credentials (lib/pt's
 * encoding), the client's SOCKS parser reads them back, and the flags are overridden. Each
 * line's rendezvous method and ICE servers are printed.
 */
import { assert, assertEquals, assertThrows } from "../../lib/testing/assert.ts";
import { encodeClientArgs, parseClientArgs, splitClientArgs } from "../../lib/pt/socks.ts";
import {
  applyBridgeArgs,
  chooseRendezvous,
  defaultClientConfig,
  parseBridgeLine,
  parseIceServers,
  pickIceServers,
} from "../../lib/snowflake/client_config.ts";
import { parseSqsCreds } from "../../lib/snowflake/rendezvous_sqs.ts";

/**
 * Tor Browser's built-in Snowflake bridges: the two of tor-browser-build's
 * projects/tor-expert-bundle/pt_config.json (2025), the CDN77 pair it shipped before, and
 * the AMP-cache and SQS lines of Tor Browser's built-in "snowflake" set.
 */
const ICE =
  "ice=stun:stun.epygi.com:3478,stun:stun.uls.co.za:3478,stun:stun.voipgate.com:3478,stun:stun.mixvoip.com:3478,stun:stun.nextcloud.com:3478,stun:stun.bethesda.net:3478,stun:stun.nextcloud.com:443";
export const TOR_BROWSER_BRIDGES = [
  `snowflake 192.0.2.3:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 fingerprint=2B280B23E1107BB62ABFC40DDCC8824814F80A72 url=https://voluble-torrone-fc39bf.netlify.app/ fronts=vuejs.org ${ICE} utls-imitate=hellorandomizedalpn`,
  `snowflake 192.0.2.4:80 8838024498816A039FCBBAB14E6F40A0843051FA fingerprint=8838024498816A039FCBBAB14E6F40A0843051FA url=https://voluble-torrone-fc39bf.netlify.app/ fronts=vuejs.org ${ICE} utls-imitate=hellorandomizedalpn`,
  "snowflake 192.0.2.3:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 fingerprint=2B280B23E1107BB62ABFC40DDCC8824814F80A72 url=https://1098762253.rsc.cdn77.org/ fronts=app.datapacket.com,www.datapacket.com ice=stun:stun.epygi.com:3478,stun:stun.uls.co.za:3478,stun:stun.voipgate.com:3478,stun:stun.mixvoip.com:3478,stun:stun.telnyx.com:3478,stun:stun.hot-chilli.net:3478,stun:stun.fitauto.ru:3478,stun:stun.m-online.net:3478 utls-imitate=hellorandomizedalpn",
  "snowflake 192.0.2.5:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 fingerprint=2B280B23E1107BB62ABFC40DDCC8824814F80A72 url=https://snowflake-broker.torproject.net/ ampcache=https://cdn.ampproject.org/ front=www.google.com ice=stun:stun.antisip.com:3478,stun:stun.epygi.com:3478,stun:stun.uls.co.za:3478,stun:stun.voipgate.com:3478,stun:stun.mixvoip.com:3478,stun:stun.nextcloud.com:3478,stun:stun.bethesda.net:3478,stun:stun.nextcloud.com:443 utls-imitate=hellorandomizedalpn",
  "snowflake 192.0.2.6:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 fingerprint=2B280B23E1107BB62ABFC40DDCC8824814F80A72 sqsqueue=https://sqs.us-east-1.amazonaws.com/893902434899/snowflake-broker sqscreds=eyJhd3MtYWNjZXNzLWtleS1pZCI6IkFLSUE1QUlGNFdKSlhTN1lIRUczIiwiYXdzLXNlY3JldC1rZXkiOiI3U0RNc0pBNHM1RitXZWJ1L3pMOHZrMFFXV0lsa1c2Y1dOZlVsQ0tRIn0= ice=stun:stun.antisip.com:3478,stun:stun.epygi.com:3478,stun:stun.uls.co.za:3478,stun:stun.voipgate.com:3478,stun:stun.nextcloud.com:3478,stun:stun.bethesda.net:3478,stun:stun.nextcloud.com:443 utls-imitate=hellorandomizedalpn",
];

/** What tor sends: the args as SOCKS5 username/password, parsed back by the client. */
function throughSocks(args: Map<string, string[]>): Map<string, string[]> {
  const pairs = [...args].flatMap(([k, vs]) => vs.map((v) => [k, v] as const));
  const { username, password } = splitClientArgs(encodeClientArgs(pairs));
  const pass = password.length === 1 && password[0] === 0 ? new Uint8Array(0) : password;
  return parseClientArgs(new TextDecoder().decode(new Uint8Array([...username, ...pass])));
}

Deno.test("bridgelines: every Tor Browser Snowflake bridge line is accepted unchanged", () => {
  const base = defaultClientConfig();
  base.ice = ["stun:flag.example:3478"]; // a flag the bridge line overrides
  for (const line of TOR_BROWSER_BRIDGES) {
    const bridge = parseBridgeLine(line);
    assertEquals(bridge.transport, "snowflake");
    const config = applyBridgeArgs(base, throughSocks(bridge.args));
    assertEquals(config.fingerprint, bridge.fingerprint);
    const rendezvous = chooseRendezvous(config);
    const { servers, skipped } = parseIceServers(config.ice);
    assertEquals(skipped, []);
    assert(servers.length >= 7);
    for (const s of servers) assert(/^stun:[a-z0-9.-]+:\d+$/.test(s.urls), s.urls);
    const picked = pickIceServers(servers);
    assertEquals(picked.length, Math.ceil(servers.length / 2));
    assertEquals(config.utlsImitate, "hellorandomizedalpn");
    const where = rendezvous.kind === "sqs"
      ? `sqs ${rendezvous.sqsQueueUrl} (key ${parseSqsCreds(rendezvous.sqsCreds).accessKeyId})`
      : rendezvous.kind === "amp"
      ? `amp ${rendezvous.ampCacheUrl} -> ${rendezvous.brokerUrl} via ${rendezvous.fronts}`
      : `http ${rendezvous.brokerUrl} via ${rendezvous.fronts}`;
    console.log(
      `${bridge.address} ${bridge.fingerprint.slice(0, 8)}: ${where}; ice ${servers.length}: ${
        servers.map((s) => s.urls).join(" ")
      }`,
    );
    if (line.includes("sqsqueue=")) {
      assertEquals(rendezvous.kind, "sqs");
    } else if (line.includes("ampcache=")) {
      assertEquals(rendezvous.kind, "amp");
      if (rendezvous.kind === "amp") assertEquals(rendezvous.fronts, ["www.google.com"]);
    } else {
      assertEquals(rendezvous.kind, "http");
      if (rendezvous.kind === "http") {
        assertEquals(rendezvous.brokerUrl, bridge.args.get("url")![0]);
        assertEquals(rendezvous.fronts, bridge.args.get("fronts")![0]!.split(","));
      }
    }
  }
});

Deno.test("bridgelines: sqsqueue with the flags' url is refused, as in Go", () => {
  const base = defaultClientConfig();
  base.brokerUrl = "https://flag-broker.example/";
  const args = parseBridgeLine(TOR_BROWSER_BRIDGES[4]!).args;
  assertThrows(() => chooseRendezvous(applyBridgeArgs(base, args)), SyntaxError, "several");
});

Deno.test("bridgelines: bad arguments are SyntaxErrors that name them", () => {
  const base = defaultClientConfig();
  const bad: [string, string][] = [
    ["max", "two"],
    ["max", "0"],
    ["fingerprint", "1234"],
    ["colour", "blue"],
  ];
  for (const [k, v] of bad) {
    assertThrows(() => applyBridgeArgs(base, new Map([[k, [v]]])), SyntaxError, k);
  }
  assertThrows(() => chooseRendezvous(base), SyntaxError, "no rendezvous method");
  const noCreds = applyBridgeArgs(base, new Map([["sqsqueue", ["https://sqs.x/1/q"]]]));
  assertThrows(() => chooseRendezvous(noCreds), SyntaxError, "sqscreds");
  const badUrl = applyBridgeArgs(base, new Map([["url", ["ftp://b/"]]]));
  assertThrows(() => chooseRendezvous(badUrl), SyntaxError, "http");
});

Deno.test("bridgelines: fronts wins over front; an empty fronts keeps the flags'", () => {
  const base = defaultClientConfig();
  base.fronts = ["flag.example"];
  const both = new Map([["front", ["a.example"]], ["fronts", ["b.example,c.example"]]]);
  assertEquals(applyBridgeArgs(base, both).fronts, ["b.example", "c.example"]);
  assertEquals(applyBridgeArgs(base, new Map([["front", ["a.example"]]])).fronts, ["a.example"]);
  assertEquals(applyBridgeArgs(base, new Map([["fronts", [""]]])).fronts, ["flag.example"]);
  assertEquals(applyBridgeArgs(base, new Map([["max", ["3"]]])).max, 3);
  assertEquals(applyBridgeArgs(base, new Map([["utls-nosni", ["Yes"]]])).utlsNoSni, true);
});

Deno.test("bridgelines: only stun: ICE servers are used, with the default port", () => {
  const { servers, skipped } = parseIceServers([
    "stun:stun.example",
    "stun:[2001:db8::1]:19302",
    "turn:turn.example:3478",
    "stuns:x.example",
    "nonsense",
  ]);
  assertEquals(servers, [{ urls: "stun:stun.example:3478" }, { urls: "stun:[2001:db8::1]:19302" }]);
  assertEquals(skipped.length, 3);
});
