import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { type MemoryConn, memoryConnPair } from "../../lib/net/memory.ts";
import type { Conn } from "../../lib/net/types.ts";
import {
  decodeProxyPollRequest,
  encodeAnswerResponse,
  encodeProxyPollResponse,
  serializeSessionDescription,
  STATUS_CLIENT_MATCH,
  STATUS_NO_MATCH,
} from "../../lib/snowflake/messages.ts";
import { PROXY_DEFAULTS, type ProxyConfig, SnowflakeProxy } from "../../proxy/relay/core.ts";
import { FakeWebRTC } from "./fake_webrtc.ts";
import { sleep } from "../../lib/net/sleep.ts";

// Peer connection 0 is the NAT probe's (run before the first poll; the fake probe server 404s).
const OFFER = serializeSessionDescription({
  type: "offer",
  sdp: "v=0\r\na=candidate:1 1 udp 2122260223 203.0.113.9 5000 typ host\r\n",
});

interface Script {
  /** Poll replies in order; after the last, "no match". */
  polls: { relayURL?: string; nextPoll?: number; match?: boolean }[];
  answerSuccess?: boolean;
  probeStatus?: number;
}

function setup(script: Script, config: Partial<ProxyConfig> = {}) {
  const webrtc = new FakeWebRTC();
  const log: string[] = [];
  const relays: { url: string; near: MemoryConn; far: Conn }[] = [];
  const pollTimes: number[] = [];
  const pollBodies: string[] = [];
  let pollIndex = 0;
  let dialFails = false;
  let probes = 0;
  let probesAtFirstPoll = -1;
  const fetchFn: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const body = String(init?.body ?? "");
    if (url.pathname === "/probe") {
      probes++;
      return new Response("", { status: script.probeStatus ?? 404 });
    }
    if (url.pathname === "/answer") {
      return new Response(encodeAnswerResponse(script.answerSuccess ?? true));
    }
    if (probesAtFirstPoll < 0) probesAtFirstPoll = probes;
    pollTimes.push(Date.now());
    pollBodies.push(body);
    const p = script.polls[pollIndex++];
    if (!p) {
      await sleep(20);
      return new Response(encodeProxyPollResponse({ status: STATUS_NO_MATCH }));
    }
    return new Response(encodeProxyPollResponse({
      status: p.match === false ? STATUS_NO_MATCH : STATUS_CLIENT_MATCH,
      offer: p.match === false ? "" : OFFER,
      nat: "unknown",
      relayURL: p.relayURL ?? "wss://snowflake.torproject.net/",
      nextPoll: p.nextPoll,
    }));
  };
  const proxy = new SnowflakeProxy({
    ...PROXY_DEFAULTS,
    stunURLs: [],
    brokerURL: "https://broker.example/",
    natProbeURL: "https://broker.example/probe",
    policy: {
      allowedHostPattern: "snowflake.torproject.net$",
      allowNonTLS: false,
      allowPrivateAddresses: false,
    },
    pollIntervalMs: 2000,
    summaryIntervalMs: 0,
    natRetestIntervalMs: 0,
    dataChannelTimeoutMs: 300,
    inactivityTimeoutMs: 300,
    ...config,
  }, {
    webrtc,
    fetch: fetchFn,
    dialRelay: (url) => {
      if (dialFails) return Promise.reject(new Error("refused"));
      const [near, far] = memoryConnPair();
      relays.push({ url, near, far });
      return Promise.resolve(near);
    },
    log: (m) => log.push(m),
  });
  const running = proxy.run();
  return {
    proxy,
    webrtc,
    log,
    relays,
    pollTimes,
    pollBodies,
    running,
    failDials: () => (dialFails = true),
    probes: () => probes,
    probesAtFirstPoll: () => probesAtFirstPoll,
  };
}

async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(10);
  }
}

Deno.test("proxy: a refused relay makes no peer connection and sends no answer", async () => {
  const t = setup({ polls: [{ relayURL: "ws://snowflake.torproject.net/" }] });
  await until(() => t.log.some((l) => l.includes("refusing")), "refusal");
  t.proxy.stop();
  await t.running;
  assertEquals(t.webrtc.peers.length, 1, "only the NAT probe's");
  assertEquals(t.proxy.stats.refusedRelays, 1);
});

Deno.test("proxy: every peer connection is closed on every path", async (ctx) => {
  await ctx.step("the broker says the client is gone", async () => {
    const t = setup({ polls: [{}], answerSuccess: false });
    await until(() => t.proxy.stats.clientsGone === 1, "client gone");
    t.proxy.stop();
    await t.running;
    assertEquals([t.webrtc.peers.length, t.webrtc.open], [2, 0]);
  });
  await ctx.step("the offer is unusable", async () => {
    const t = setup({ polls: [{}] });
    t.webrtc.failRemote = true;
    await until(() => t.log.some((l) => l.includes("bad offer")), "session error");
    t.proxy.stop();
    await t.running;
    assertEquals([t.webrtc.peers.length, t.webrtc.open], [2, 0]);
  });
  await ctx.step("the data channel never opens", async () => {
    const t = setup({ polls: [{}] });
    await until(() => t.proxy.stats.openTimeouts === 1, "open timeout");
    t.proxy.stop();
    await t.running;
    assertEquals([t.webrtc.peers.length, t.webrtc.open], [2, 0]);
  });
  await ctx.step("the relay cannot be dialed", async () => {
    const t = setup({ polls: [{}] });
    t.failDials();
    (await t.webrtc.peer(1)).arrive().open();
    await until(() => t.proxy.stats.relayDialErrors === 1, "dial error");
    t.proxy.stop();
    await t.running;
    assertEquals([t.webrtc.peers.length, t.webrtc.open], [2, 0]);
  });
  await ctx.step("a relay ends when the client closes, and stop() closes the rest", async () => {
    const t = setup({ polls: [{}, {}] });
    const first = (await t.webrtc.peer(1)).arrive();
    first.open();
    const second = (await t.webrtc.peer(2)).arrive();
    second.open();
    await until(() => t.relays.length === 2, "two relays");
    first.close();
    await until(() => t.webrtc.open === 1, "first closed");
    t.proxy.stop();
    await t.running;
    assertEquals([t.webrtc.peers.length, t.webrtc.open, t.proxy.stats.active], [3, 0, 0]);
  });
});

Deno.test("proxy: the relay is dialed while ICE connects, and closed if the channel never opens", async () => {
  const t = setup({ polls: [{}] });
  const channel = (await t.webrtc.peer(1)).arrive();
  await until(() => t.relays.length === 1, "relay dialed before the channel opens");
  assertEquals(channel.readyState, "connecting");
  assertEquals(t.proxy.stats.relayDialErrors, 0);
  await t.relays[0]!.near.closed;
  assertEquals(t.proxy.stats.openTimeouts, 1);
  t.proxy.stop();
  await t.running;
});

Deno.test("proxy: bytes cross both ways, the first ones even before the conn is read", async () => {
  const t = setup({ polls: [{}] }, { inactivityTimeoutMs: 30_000 });
  const channel = (await t.webrtc.peer(1)).arrive();
  channel.open();
  channel.deliver(new Uint8Array([1, 2, 3])); // at once, as the Go client sends its token
  await until(() => t.relays.length === 1, "relay");
  assert(t.relays[0]!.url.includes("client_ip=203.0.113.9"), t.relays[0]!.url);
  const far = t.relays[0]!.far;
  const r = far.readable.getReader();
  assertEquals((await r.read()).value, new Uint8Array([1, 2, 3]));
  const w = far.writable.getWriter();
  await w.write(new Uint8Array(40_000));
  await until(() => channel.sent.reduce((n, c) => n + c.length, 0) === 40_000, "downstream");
  assert(channel.sent.every((c) => c.length <= 16384), "messages of at most 16 KiB");
  t.proxy.stop();
  await t.running;
  assertEquals(t.proxy.stats.bytesFromClients, 3);
  assertEquals(t.proxy.stats.bytesToClients, 40_000);
});

Deno.test("proxy: capacity stops polling while full; the count sent is rounded down to 8", async () => {
  const t = setup({ polls: [{}] }, { capacity: 1 });
  const channel = (await t.webrtc.peer(1)).arrive();
  channel.open();
  await until(() => t.relays.length === 1, "relay");
  const polls = t.pollTimes.length;
  await sleep(300);
  assertEquals(t.pollTimes.length, polls, "no poll while full");
  channel.close();
  await until(() => t.pollTimes.length > polls, "polls again once a slot frees", 5000);
  t.proxy.stop();
  await t.running;
  assertEquals(decodeProxyPollRequest(t.pollBodies[0]!).clients, 0);
});

Deno.test("proxy: the broker's NextPoll sets when the next poll starts", async () => {
  const t = setup({ polls: [{ match: false, nextPoll: 3000 }, { match: false }] }, {
    pollIntervalMs: 60_000,
  });
  await until(() => t.pollTimes.length >= 2, "second poll", 20_000);
  t.proxy.stop();
  await t.running;
  // The second poll came at NextPoll, not at the 60 s interval.
  assert(t.pollTimes[1]! - t.pollTimes[0]! >= 2500, "not before NextPoll");
});

Deno.test("proxy: the NAT probe runs before the first poll and again every retest interval", async () => {
  const t = setup({ polls: [] }, { natRetestIntervalMs: 100 });
  await until(() => t.probes() >= 3, "two retests");
  t.proxy.stop();
  await t.running;
  assertEquals(t.probesAtFirstPoll(), 1, "the first probe came before the first poll");
  assert(t.log.some((l) => l.includes("NAT probe failed")));
  assertEquals(t.webrtc.open, 0, "every probe closed its peer connection");
});
