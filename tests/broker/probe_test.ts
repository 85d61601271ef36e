// The /probe answerer (proxy/broker/probe.ts) over the in-memory WebRTC twin: answers, closes
// every peer connection on every path, and caps concurrent probes. The real thing, with
// Debian's snowflake-proxy and libwebrtc, is `probe:` in tests/interop/go_peers_test.ts.
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import {
  decodeAnswerRequest,
  deserializeSessionDescription,
  encodeProxyPollResponse,
  serializeSessionDescription,
} from "../../lib/snowflake/messages.ts";
import { probeHandler } from "../../proxy/broker/probe.ts";
import { FakeWebRTC } from "../proxy/fake_webrtc.ts";

const offerBody = encodeProxyPollResponse({
  status: "client match",
  offer: serializeSessionDescription({
    type: "offer",
    sdp: "v=0\r\na=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n",
  }),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("broker: /probe answers the offer and closes its peer on every path", async () => {
  const webrtc = new FakeWebRTC();
  const results: boolean[] = [];
  const probe = probeHandler({
    webrtc: () => Promise.resolve(webrtc),
    onResult: (opened) => results.push(opened),
    openTimeoutMs: 100,
    closeTimeoutMs: 50,
  });
  // Opened: answered with stub-sid, closed after the close timeout.
  const r = await probe(offerBody);
  assertEquals(r.status, 200);
  const answer = decodeAnswerRequest(r.body);
  assertEquals(answer.sid, "stub-sid");
  assertEquals(deserializeSessionDescription(answer.answer).type, "answer");
  (await webrtc.peer(0)).arrive().open();
  await sleep(100);
  assert(webrtc.peers[0]!.closed);
  // Never opened: closed after the open timeout.
  assertEquals((await probe(offerBody)).status, 200);
  await sleep(200);
  assert(webrtc.peers[1]!.closed);
  // A bad offer is refused before any peer exists; a failing one is closed at once.
  assertEquals((await probe("{}")).status, 400);
  assertEquals(webrtc.peers.length, 2);
  webrtc.failRemote = true;
  assertEquals((await probe(offerBody)).status, 500);
  assert(webrtc.peers[2]!.closed);
  assertEquals(results, [true, false, false]);
  assertEquals(webrtc.open, 0);
});

Deno.test("broker: /probe refuses more than its concurrent probes", async () => {
  const webrtc = new FakeWebRTC();
  const probe = probeHandler({
    webrtc: () => Promise.resolve(webrtc),
    maxConcurrent: 2,
    openTimeoutMs: 100,
  });
  const statuses = await Promise.all([probe(offerBody), probe(offerBody), probe(offerBody)]);
  assertEquals(statuses.map((s) => s.status).sort(), [200, 200, 503]);
  await sleep(200);
  assertEquals(webrtc.open, 0);
  // Capacity is back once those ended.
  assertEquals((await probe(offerBody)).status, 200);
  await sleep(200);
  assertEquals(webrtc.open, 0);
});
