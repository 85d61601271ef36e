/**
 * `web-proxy:limits`: the page's config obeys the binary's limits, and it relays to a private
 * or plain ws:// address only when the broker's bridge list names it (checked on the policy, and
 * on the core under the page's adapter against a broker handing such a relay); `--serve-web-proxy`
 * serves the page, its script and a config built from the bridge list.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../lib/testing/assert.ts";
import { serializeSessionDescription } from "../../lib/snowflake/messages.ts";
import { MemoryRTCPeerConnection } from "../../lib/snowflake/webrtc_memory.ts";
import { PROXY_DEFAULTS, SnowflakeProxy } from "../../proxy/relay/core.ts";
import { relayRefusal } from "../../proxy/relay/safeguards.ts";
import { parseBrokerFlags } from "../../proxy/broker/flags.ts";
import { PAGE_CAPACITY, PAGE_PROXY_TYPE, pageProxyConfig } from "../../proxy/web/config.ts";
import { webProxyHandler } from "../../proxy/web/serve.ts";
import { type BrowserPlatform, pageProxyEnv } from "../../proxy/web/env.ts";
import { RelaySink, RendezvousBroker } from "../proxy/fixtures.ts";

const PAGE = "https://broker.example/web-proxy/";

Deno.test("web-proxy:limits the page's config: defaults, URLs resolved, the binary's bounds", () => {
  const c = pageProxyConfig({}, PAGE);
  assertEquals(c.brokerURL, "https://broker.example/");
  assertEquals(c.capacity, PAGE_CAPACITY);
  assertEquals(c.proxyType, PAGE_PROXY_TYPE);
  assertEquals(c.pollIntervalMs, PROXY_DEFAULTS.pollIntervalMs);
  assertEquals(c.dataChannelTimeoutMs, PROXY_DEFAULTS.dataChannelTimeoutMs);
  assertEquals(c.inactivityTimeoutMs, PROXY_DEFAULTS.inactivityTimeoutMs);
  assertEquals(c.policy.allowPrivateAddresses, false);
  assertEquals(c.policy.allowNonTLS, false);
  assertEquals(
    pageProxyConfig({ natProbeURL: "../probe" }, PAGE).natProbeURL,
    "https://broker.example/probe",
  );
  assertThrows(() => pageProxyConfig({ pollIntervalMs: 1999 }, PAGE), RangeError);
  assertThrows(() => pageProxyConfig({ capacity: -1 }, PAGE), RangeError);
  assertThrows(() => pageProxyConfig({ capacity: 1.5 }, PAGE), RangeError);
  assertThrows(() => pageProxyConfig({ relayPattern: "snowflake.torproject.net" }, PAGE));
  assertThrows(() => pageProxyConfig({ stunURLs: "stun:x" as unknown as string[] }, PAGE));
  assertThrows(() => pageProxyConfig({ brokerURL: "http://[" }, PAGE), SyntaxError);
});

Deno.test("web-proxy:limits private and ws:// relays only when the bridge list names them", () => {
  const listed = "ws://10.0.0.5:8080/";
  const { policy } = pageProxyConfig(
    { relayPattern: "^10.0.0.5$", bridgeRelays: [listed] },
    PAGE,
  );
  assertEquals(relayRefusal(listed, policy), null);
  assert(relayRefusal("ws://10.0.0.5:9999/", policy), "another port is not listed");
  assert(relayRefusal("wss://10.0.0.5:8080/", policy), "another scheme is not listed");
  const open = pageProxyConfig({ relayPattern: "$", bridgeRelays: [listed] }, PAGE).policy;
  for (const url of ["ws://127.0.0.1/", "wss://192.168.1.1/", "wss://[::1]/", "wss://localhost/"]) {
    assert(relayRefusal(url, open), `${url} refused`);
  }
  assertEquals(relayRefusal("wss://snowflake.example/", open), null);
  const tor = pageProxyConfig({}, PAGE).policy;
  assertEquals(relayRefusal("wss://snowflake.torproject.net/", tor), null);
  assert(relayRefusal("wss://evil.example/", tor), "the default pattern holds");
});

Deno.test("web-proxy:limits --serve-web-proxy serves the page, its script and the config", async () => {
  const flags = parseBrokerFlags([
    "--disable-tls",
    "--serve-web-proxy",
    "--web-proxy-stun",
    "stun:a:3478,stun:b:3478",
  ]);
  assertEquals([flags.serveWebProxy, flags.webProxyStun], [true, ["stun:a:3478", "stun:b:3478"]]);
  assertEquals(parseBrokerFlags(["--disable-tls"]).webProxyStun, undefined);
  assertEquals(parseBrokerFlags(["--web-proxy-stun", ""]).webProxyStun, []);
  const handle = await webProxyHandler({
    bridgeRelays: () => ["wss://relay.example/"],
    relayPattern: "relay.example$",
    stunURLs: flags.webProxyStun,
    keepLocalAddresses: false,
    probe: true,
  });
  const get = (target: string) => handle({ method: "GET", target });
  assertEquals(get("/client"), null, "the broker's own paths are left alone");
  const html = get("/web-proxy/")!;
  assertEquals(html.status, 200);
  assert((await html.text()).includes(`src="web-proxy.js"`));
  assert(html.headers.get("content-security-policy")?.includes("script-src 'self'"));
  const js = get("/web-proxy/web-proxy.js")!;
  assertEquals(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert((await js.text()).includes("var SnowflakeProxy = class"));
  const config = await get("/web-proxy/config.json")!.json();
  assertEquals(config, {
    brokerURL: "../",
    relayPattern: "relay.example$",
    bridgeRelays: ["wss://relay.example/"],
    stunURLs: ["stun:a:3478", "stun:b:3478"],
    natProbeURL: "../probe",
    keepLocalAddresses: false,
  });
  assertEquals(get("/web-proxy/nope")!.status, 404);
  assertEquals(get("/web-proxy")!.status, 301);
  assertEquals(get("/web-proxy/config.json?x=1")!.status, 200);
  assertEquals(handle({ method: "POST", target: "/web-proxy/" })!.status, 405);
});

Deno.test({
  name: "web-proxy:limits the page's core refuses a private ws:// relay its bridge list lacks",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const relay = new RelaySink("127.0.0.1");
    const client = new MemoryRTCPeerConnection();
    client.createDataChannel("snowflake-0123456789abcdef");
    const offer = await client.createOffer();
    const broker = new RendezvousBroker({
      hostname: "127.0.0.1",
      relayURL: relay.url,
      cannedOffer: serializeSessionDescription({ type: "offer", sdp: offer.sdp }),
    });
    const before = MemoryRTCPeerConnection.open;
    const config = pageProxyConfig({
      brokerURL: broker.url,
      relayPattern: "$",
      bridgeRelays: ["wss://snowflake.example/"],
      stunURLs: [],
      natProbeURL: broker.url + "probe",
    }, PAGE);
    const platform: BrowserPlatform = {
      RTCPeerConnection: MemoryRTCPeerConnection,
      WebSocket: globalThis.WebSocket,
      fetch: (input, init) => fetch(input, init),
      timers: {
        setTimeout: (f, ms) => setTimeout(f, ms),
        clearTimeout: (id) => clearTimeout(id as number),
      },
    };
    const proxy = new SnowflakeProxy(
      { ...config, pollIntervalMs: 2000 },
      pageProxyEnv(platform, broker.url, { log: () => {} }),
    );
    const running = proxy.run();
    try {
      for (let i = 0; i < 100 && broker.polls.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(broker.polls.length >= 2, "the page polled twice");
      assert(proxy.stats.refusedRelays >= 1, "the offer was refused");
      assertEquals(broker.answersReceived, 0, "never answered");
      assertEquals(relay.clientIPs.length, 0, "the relay was never dialed");
      assertEquals(MemoryRTCPeerConnection.open, before, "no peer connection was made");
    } finally {
      proxy.stop();
      await running;
      client.close();
      await broker.close();
      await relay.close();
    }
  },
});
