/**
 * Two real @roamhq/wrtc peers in one process, joined through the shared helpers
 * (lib/snowflake/webrtc.ts, datachannel.ts). Run inside a namespace with a non-loopback address
 * (tests/proxy/webrtc_test.ts does); prints one JSON line of findings and exits by itself, which
 * it only can once every peer connection is closed.
 *
 * @module
 */
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import {
  closePeer,
  type DataChannel,
  gatherLocalDescription,
  remoteIPFromSDP,
  stripLocalCandidates,
} from "../../lib/snowflake/webrtc.ts";
import { dataChannelConn } from "../../lib/snowflake/datachannel.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { sha256Hex } from "../../lib/testing/util.ts";
import { concatBytes } from "../../lib/net/bytes.ts";

const SIZE = Number(Deno.args[0] ?? 4_000_000);
const HIGH_WATER = 64 * 1024;

const offerer = wrtcWebRTC.newPeerConnection({});
const answerer = wrtcWebRTC.newPeerConnection({});
const channel = offerer.createDataChannel("snowflake-0123456789abcdef", { ordered: true });
const offer = await gatherLocalDescription(offerer, await offerer.createOffer());
const strippedOffer = stripLocalCandidates(offer.sdp);

const remote = new Promise<DataChannel>((resolve) =>
  answerer.addEventListener("datachannel", (e) => resolve((e as RTCDataChannelEvent).channel))
);
await answerer.setRemoteDescription({ type: "offer", sdp: strippedOffer });
const answer = await gatherLocalDescription(answerer, await answerer.createAnswer());
await offerer.setRemoteDescription({ type: "answer", sdp: stripLocalCandidates(answer.sdp) });

let peerClosed = 0;
let maxBuffered = 0;
const a = dataChannelConn(channel, {
  highWaterMark: HIGH_WATER,
  onClose: () => (closePeer(offerer), peerClosed++),
});
const b = dataChannelConn(await remote, { onClose: () => (closePeer(answerer), peerClosed++) });

async function send(conn: typeof a, data: Uint8Array): Promise<void> {
  const w = conn.writable.getWriter();
  for (let off = 0; off < data.length; off += 100_000) {
    await w.write(data.subarray(off, off + 100_000));
  }
  w.releaseLock();
}

async function receive(conn: typeof a, n: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let have = 0;
  const r = conn.readable.getReader();
  while (have < n) {
    const { value, done } = await r.read();
    if (done) break;
    parts.push(value);
    have += value.length;
  }
  r.releaseLock();
  return concatBytes(parts);
}

const up = seededBytes(SIZE, 1);
const down = seededBytes(SIZE, 2);
const started = performance.now();
// Without backpressure the channel's buffer would reach megabytes (libwebrtc caps it at 16 MiB).
const sampler = setInterval(() => {
  maxBuffered = Math.max(maxBuffered, a.channel.bufferedAmount);
}, 1);
const [, , gotUp, gotDown] = await Promise.all([
  send(a, up),
  send(b, down),
  receive(b, SIZE),
  receive(a, SIZE),
]);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);

// Closing one side must end the other side's stream and close both peer connections.
a.close();
const ended = await b.readable.getReader().read();
await b.closed;

const candidates = (sdp: string) => sdp.split(/\r?\n/).filter((l) => l.startsWith("a=candidate:"));
console.log(JSON.stringify({
  upIntact: (await sha256Hex(gotUp)) === (await sha256Hex(up)),
  downIntact: (await sha256Hex(gotDown)) === (await sha256Hex(down)),
  offerCandidates: candidates(offer.sdp).length,
  strippedCandidates: candidates(strippedOffer),
  clientIP: remoteIPFromSDP(strippedOffer),
  maxBuffered,
  highWater: HIGH_WATER + 16384,
  peerEnded: ended.done,
  peerClosed,
  states: [offerer.connectionState, answerer.connectionState],
  mbPerSecond: (2 * SIZE / 1e6 / seconds).toFixed(1),
}));
