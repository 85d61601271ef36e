/**
 * `web-proxy:same-core`: the binary and the page run one proxy core (proxy/relay/core.ts). The
 * same relay script runs the core under the binary's adapter (proxy/relay/env.ts: its relay
 * dialer on Deno's WebSocketStream) and under the page's (proxy/web/env.ts, with a browser-style
 * WebSocket and with WebSocketStream; the page's config from proxy/web/config.ts), over the
 * in-memory WebRTC twin (lib/snowflake/webrtc_memory.ts), a real HTTP broker and a real
 * WebSocket echo relay on loopback, and the findings must be the same.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { sha256Hex } from "../../lib/testing/util.ts";
import { concatBytes } from "../../lib/net/bytes.ts";
import {
  decodeClientPollResponse,
  deserializeSessionDescription,
  encodeClientPollRequest,
  serializeSessionDescription,
} from "../../lib/snowflake/messages.ts";
import { dataChannelConn } from "../../lib/snowflake/datachannel.ts";
import { MemoryRTCPeerConnection } from "../../lib/snowflake/webrtc_memory.ts";
import { type ProxyConfig, type ProxyEnv, SnowflakeProxy } from "../../proxy/relay/core.ts";
import { binaryProxyEnv, dialRelayNoDelay } from "../../proxy/relay/env.ts";
import { dialRelay, type WebSocketStreamCtor } from "../../proxy/relay/relay_dial.ts";
import { pageProxyConfig } from "../../proxy/web/config.ts";
import { type BrowserPlatform, pageProxyEnv } from "../../proxy/web/env.ts";
import { RelaySink, RendezvousBroker } from "../proxy/fixtures.ts";
import { sleep } from "../../lib/net/sleep.ts";

const HOST = "127.0.0.1";
const SIZE = 1_000_000;

async function waitUntil(ok: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** A Snowflake client over the twin: rendezvous, then its open data channel as a Conn. */
async function dialClient(brokerURL: string) {
  const pc = new MemoryRTCPeerConnection({ candidateAddress: "198.51.100.20" });
  const channel = pc.createDataChannel("snowflake-0123456789abcdef");
  const opened = new Promise<void>((r) => channel.addEventListener("open", () => r()));
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const res = await fetch(new URL("client", brokerURL), {
    method: "POST",
    body: encodeClientPollRequest({
      offer: serializeSessionDescription({ type: "offer", sdp: offer.sdp }),
      nat: "unrestricted",
    }),
  });
  const reply = decodeClientPollResponse(await res.text());
  if (reply.error) throw new Error(reply.error);
  await pc.setRemoteDescription(
    deserializeSessionDescription(reply.answer!) as { type: "answer"; sdp: string },
  );
  await opened;
  return { pc, conn: dataChannelConn(channel, { onClose: () => pc.close() }) };
}

/** The relay script: echo SIZE bytes through the proxy, then stop it with the relay open. */
async function relayScript(
  makeEnv: (log: (m: string) => void) => ProxyEnv,
  makeConfig: (brokerURL: string, relayURL: string) => ProxyConfig,
): Promise<Record<string, unknown>> {
  const relay = new RelaySink(HOST);
  const broker = new RendezvousBroker({ hostname: HOST, relayURL: () => relay.url });
  const log: string[] = [];
  const proxy = new SnowflakeProxy(makeConfig(broker.url, relay.url), makeEnv((m) => log.push(m)));
  const running = proxy.run();
  try {
    const { conn } = await dialClient(broker.url);
    const data = seededBytes(SIZE, 7);
    const r = conn.readable.getReader();
    const reading = (async () => {
      const parts: Uint8Array[] = [];
      for (let have = 0; have < SIZE;) {
        const { value, done } = await r.read();
        if (done) break;
        parts.push(value);
        have += value.length;
      }
      return concatBytes(parts);
    })();
    const w = conn.writable.getWriter();
    for (let off = 0; off < SIZE; off += 40_000) await w.write(data.subarray(off, off + 40_000));
    const intact = (await sha256Hex(await reading)) === (await sha256Hex(data));
    const relayWasOpen = relay.open;
    const during = { active: proxy.stats.active, clients: proxy.clients };
    proxy.stop();
    const clientClosed = await Promise.race([
      conn.closed.then(() => true),
      sleep(5000).then(() => false),
    ]);
    await running;
    const relayClosed = await waitUntil(() => relay.open === 0);
    return {
      intact,
      relayWasOpen,
      during,
      clientClosed,
      relayClosed,
      clientIPs: relay.clientIPs,
      connections: proxy.stats.connections,
      fromClients: proxy.stats.bytesFromClients,
      toClients: proxy.stats.bytesToClients,
      activeAfter: proxy.stats.active,
      pollsSentRelayPattern: broker.polls.every((p) => p.pattern === `^${relay.host}$`),
      peersLeft: await waitUntil(() => MemoryRTCPeerConnection.open === 0) ? 0 : "some",
      connectedLogged: log.includes("client connected"),
    };
  } finally {
    proxy.stop();
    await running;
    await broker.close();
    await relay.close();
  }
}

/** The page's config for these servers, as its broker would serve it. */
function pageConfig(brokerURL: string, relayURL: string): ProxyConfig {
  return {
    ...pageProxyConfig({
      brokerURL,
      relayPattern: `^${new URL(relayURL).host}$`,
      bridgeRelays: [relayURL],
      stunURLs: [],
      natProbeURL: brokerURL + "probe",
    }, `${brokerURL}web-proxy/`),
    pollIntervalMs: 2000,
  };
}

const memoryWebRTC = {
  newPeerConnection: (c: RTCConfiguration) =>
    new MemoryRTCPeerConnection(c) as unknown as ReturnType<
      ProxyEnv["webrtc"]["newPeerConnection"]
    >,
};

const browserTwin: BrowserPlatform = {
  RTCPeerConnection: MemoryRTCPeerConnection,
  WebSocket: globalThis.WebSocket,
  fetch: (input, init) => fetch(input, init),
  timers: {
    setTimeout: (f, ms) => setTimeout(f, ms),
    clearTimeout: (id) => clearTimeout(id as number),
  },
};

Deno.test({
  name: "web-proxy:same-core: one core under the binary's and the page's adapters relays alike",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const binaryEnv = (log: (m: string) => void) => binaryProxyEnv({ log }, memoryWebRTC);
    const pageEnv = (log: (m: string) => void) =>
      pageProxyEnv(browserTwin, `http://${HOST}:`, { log });
    const WebSocketStream = (globalThis as { WebSocketStream?: WebSocketStreamCtor })
      .WebSocketStream;
    assert(WebSocketStream, "Deno has WebSocketStream (--unstable-net)");
    const pageStreamEnv = (log: (m: string) => void) =>
      pageProxyEnv({ ...browserTwin, WebSocketStream }, `http://${HOST}:`, { log });
    // The adapters really differ where the issue says they do.
    assert(
      binaryEnv(() => {}).dialRelay === dialRelayNoDelay,
      "the binary dials with relay_dial.ts, Nagle off",
    );
    assert(pageEnv(() => {}).dialRelay !== dialRelay, "the page dials with its own WebSocket");

    const binary = await relayScript(binaryEnv, pageConfig);
    const page = await relayScript(pageEnv, pageConfig);
    const pageStream = await relayScript(pageStreamEnv, pageConfig);
    assertEquals(binary.intact, true, `binary: ${JSON.stringify(binary)}`);
    assertEquals(binary.relayWasOpen, 1);
    assertEquals(binary.clientClosed, true, "stop() closes the client's channel");
    assertEquals(binary.relayClosed, true, "stop() closes the relay");
    assertEquals(binary.clientIPs, ["198.51.100.20"]);
    assertEquals(binary.connections, 1);
    assertEquals(binary.pollsSentRelayPattern, true);
    assertEquals(binary.fromClients, SIZE);
    assertEquals(binary.toClients, SIZE);
    assertEquals(page, binary, "the page's adapter (WebSocket) gives the binary's findings");
    assertEquals(pageStream, binary, "the page's adapter (WebSocketStream) too");
  },
});
