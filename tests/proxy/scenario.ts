/**
 * Proxy scenarios, run inside a namespace by tests/proxy/proxy_test.ts: our proxy as a child
 * process between a scripted broker, a WebSocket relay and WebRTC clients (tests/proxy/fixtures.ts).
 * `deno run … scenario.ts NAME A_ADDR` prints one JSON line of findings.
 *
 * @module
 */
import { serializeSessionDescription } from "../../lib/snowflake/messages.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { closePeer, gatherLocalDescription } from "../../lib/snowflake/webrtc.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { freeTcpPort, sha256Hex } from "../../lib/testing/util.ts";
import { concatBytes } from "../../lib/net/bytes.ts";
import {
  type ClientConn,
  dialThroughBroker,
  ProxyProcess,
  RelaySink,
  RendezvousBroker,
} from "./fixtures.ts";
import { sleep } from "../../lib/net/sleep.ts";

const [name, A] = Deno.args as [string, string];

/** Flags every scenario's proxy gets: no STUN, a probe URL that 404s, fast polls. */
function baseFlags(broker: RendezvousBroker): string[] {
  return [
    "-broker",
    broker.url,
    "-stun",
    "",
    "-nat-probe-server",
    broker.url + "probe",
    "-poll-interval",
    "2s",
  ];
}

/** What an echo through the proxy gave back: the evidence a failed assertion prints. */
interface Echo {
  intact: boolean;
  /** When it started (ISO, ms), to set beside the proxy's log. */
  at: string;
  expected: number;
  received: number;
  /** The channel ended before everything came back. */
  ended: boolean;
  /** The first byte that differs from what was sent (-1: none), e.g. 0 for reordered messages. */
  firstDiff: number;
  ms: number;
}

/**
 * Echoes `size` bytes through the proxy after `sentFirst` (sent when the channel opened). One
 * message goes first and the rest once it came back: @roamhq/wrtc can swap the messages that
 * reach the proxy while it makes the JS object of the client's new channel (docs/PROXY.md, "A
 * client session"), a race of the library that no code of ours can close, so the proxy's own
 * behaviour is tested, and the first message (c1's token) still tests that nothing sent at open is
 * lost.
 */
async function echo(client: ClientConn, size: number, sentFirst?: Uint8Array): Promise<Echo> {
  const started = Date.now();
  const data = seededBytes(size, size);
  const expected = sentFirst ? concatBytes([sentFirst, data]) : data;
  const w = client.conn.writable.getWriter();
  const r = client.conn.readable.getReader();
  let ended = false;
  let firstBack = () => {};
  const firstCame = new Promise<void>((resolve) => (firstBack = resolve));
  const reading = (async () => {
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < expected.length) {
      const { value, done } = await r.read();
      if (done) {
        ended = true;
        break;
      }
      parts.push(value);
      have += value.length;
      if (have >= (sentFirst?.length ?? 1)) firstBack();
    }
    firstBack();
    return concatBytes(parts);
  })();
  if (!sentFirst) await w.write(data.subarray(0, 1));
  await firstCame;
  for (let off = sentFirst ? 0 : 1; off < size && !ended; off += 50_000) {
    await w.write(data.subarray(off, off + 50_000));
  }
  const back = await reading;
  w.releaseLock();
  r.releaseLock();
  return {
    intact: (await sha256Hex(back)) === (await sha256Hex(expected)),
    at: new Date(started).toISOString(),
    expected: expected.length,
    received: back.length,
    ended,
    firstDiff: back.findIndex((b, i) => b !== expected[i]),
    ms: Date.now() - started,
  };
}

async function waitUntil(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

async function relayScenario(): Promise<Record<string, unknown>> {
  const relay = new RelaySink(A);
  // The proxy hears "success" from the broker only after the client has opened its channel
  // and written: the proxy must be listening on the channel from the moment it arrives.
  const broker = new RendezvousBroker({
    hostname: A,
    relayURL: () => relay.url,
    answerReplyDelayMs: 1000,
  });
  const metricsPort = freeTcpPort();
  const proxy = new ProxyProcess([
    ...baseFlags(broker),
    "--allowed-relay-hostname-pattern",
    `^${relay.host}$`,
    "-allow-non-tls-relay",
    "-capacity",
    "1",
    "-ephemeral-ports-range",
    "41000:41099",
    "-summary-interval",
    "2s",
    "-metrics",
    "-metrics-address",
    A,
    "-metrics-port",
    String(metricsPort),
    "-verbose", // how each relay ended, in the log a failed assertion prints
  ]);
  try {
    await proxy.waitLog(/NAT type/);
    // Bytes sent the moment the channel opens (as the Go client sends its token) must arrive.
    const token = new Uint8Array([0x12, 0x93, 0x60, 0x5d, 0x27, 0x81, 0x75, 0xf5]);
    const c1 = await dialThroughBroker(broker.url, 20_000, token);
    const first = await echo(c1, 3_000_000, token);
    // Capacity 1: while c1 is served the proxy does not poll, so a second client finds no proxy.
    const second = await dialThroughBroker(broker.url).then((c) => (c.close(), "connected"))
      .catch((e) => (e as Error).message);
    c1.close();
    const relayClosed = await waitUntil(() => relay.open === 0, 10_000);
    const c3 = await dialThroughBroker(broker.url);
    const third = await echo(c3, 100_000);
    const metrics = await (await fetch(`http://${A}:${metricsPort}/metrics`)).text();
    c3.close();
    await waitUntil(() => relay.open === 0, 10_000);
    await sleep(2500); // one more summary
    const code = await proxy.stop();
    return {
      first,
      third,
      second,
      relayClosed,
      clientIPs: relay.clientIPs,
      metricsConnections: /^tor_snowflake_proxy_connections_total (\d+)$/m.exec(metrics)?.[1],
      metricsInbound: /^tor_snowflake_proxy_traffic_inbound_bytes_total (\d+)$/m.exec(metrics)?.[1],
      pollPatterns: [...new Set(broker.polls.map((p) => p.pattern))],
      summary: /In the last 2s, there were [1-9]\d* connections/.test(proxy.log),
      scrubbed: !/198\.18\./.test(proxy.log),
      answerCandidates: broker.answerSDPs.flatMap((sdp) =>
        sdp.split(/\r?\n/).filter((l) => l.startsWith("a=candidate:"))
      ),
      code,
      log: proxy.log,
    };
  } finally {
    await proxy.stop();
    await broker.close();
    await relay.close();
  }
}

async function realOffer(): Promise<{ offer: string; close(): void }> {
  const pc = wrtcWebRTC.newPeerConnection({});
  pc.createDataChannel("snowflake-0000000000000000");
  const offer = await gatherLocalDescription(pc, await pc.createOffer());
  return { offer: serializeSessionDescription(offer), close: () => closePeer(pc) };
}

async function safetyScenario(): Promise<Record<string, unknown>> {
  const relay = new RelaySink(A);
  const offer = await realOffer();
  const urls = [
    `ws://${relay.host}/`, // matches the pattern, but plain ws:// without --allow-non-tls-relay
    `wss://10.20.30.40:${relay.host.split(":")[1]}/`, // a private address
    `wss://${A}.evil.example:443/`, // TLS, public name, outside the pattern
  ];
  let i = 0;
  const broker = new RendezvousBroker({
    hostname: A,
    relayURL: () => urls[i++ % urls.length]!,
    cannedOffer: offer.offer,
  });
  const proxy = new ProxyProcess([
    ...baseFlags(broker),
    "--allowed-relay-hostname-pattern",
    // Covers the first two URLs' hosts (the checks before the pattern must refuse them).
    `${relay.host.split(":")[1]}$`,
    "-unsafe-logging",
  ]);
  try {
    await proxy.waitLog(/refusing a client[^\n]*evil\.example/, 40_000);
    const code = await proxy.stop();
    return {
      refusals: proxy.log.split("\n").filter((l) => l.includes("refusing a client")),
      answers: broker.answersReceived,
      relayDials: relay.clientIPs.length,
      code,
      log: proxy.log,
    };
  } finally {
    offer.close();
    await proxy.stop();
    await broker.close();
    await relay.close();
  }
}

/** A client that never completes its side: the proxy must give up after 20 s. */
async function openTimeout(): Promise<Record<string, unknown>> {
  const offer = await realOffer();
  const broker = new RendezvousBroker({
    hostname: A,
    relayURL: "wss://x.example/",
    cannedOffer: offer.offer,
  });
  const proxy = new ProxyProcess([
    ...baseFlags(broker),
    "-capacity",
    "1",
    "--allowed-relay-hostname-pattern",
    "x.example$",
  ]);
  try {
    const started = Date.now();
    await proxy.waitLog(/timed out waiting for the client to open its data channel/, 60_000);
    const seconds = (Date.now() - started) / 1000;
    return { answers: broker.answersReceived, seconds, code: await proxy.stop(), log: proxy.log };
  } finally {
    offer.close();
    await proxy.stop();
    await broker.close();
  }
}

/** A client that goes quiet: the proxy closes its relay after 30 s without traffic. */
async function inactivity(): Promise<Record<string, unknown>> {
  const relay = new RelaySink(A);
  const broker = new RendezvousBroker({ hostname: A, relayURL: () => relay.url });
  const proxy = new ProxyProcess([
    ...baseFlags(broker),
    "--allowed-relay-hostname-pattern",
    `^${relay.host}$`,
    "-allow-non-tls-relay",
  ]);
  try {
    await proxy.waitLog(/NAT type/);
    const client = await dialThroughBroker(broker.url);
    const { intact } = await echo(client, 10_000);
    const quietFrom = Date.now();
    const ended = await client.conn.readable.getReader().read();
    const seconds = (Date.now() - quietFrom) / 1000;
    await waitUntil(() => relay.open === 0, 5000);
    client.close();
    return {
      intact,
      ended: ended.done,
      seconds,
      relayOpen: relay.open,
      code: await proxy.stop(),
      log: proxy.log,
    };
  } finally {
    await proxy.stop();
    await broker.close();
    await relay.close();
  }
}

async function timeouts(): Promise<Record<string, unknown>> {
  const [open, idle] = await Promise.all([openTimeout(), inactivity()]);
  return { open, idle };
}

const scenarios: Record<string, () => Promise<Record<string, unknown>>> = {
  relay: relayScenario,
  safety: safetyScenario,
  timeouts,
};
console.log(JSON.stringify(await scenarios[name]!()));
