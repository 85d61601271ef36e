/**
 * `deno run tests/client/wrtc_send_race.ts inprocess|isolated TRIALS [MESSAGE_SIZE [ROLE]]`: the
 * @roamhq/wrtc 0.10.0 crash (docs/client.md "WebRTC in a process of its own") on a local pair
 * of peer connections. Each trial writes through the carrier conn (`dataChannelConn`, messages
 * of MESSAGE_SIZE, default 64 KiB) as fast as the channel takes them, and the other side closes
 * the channel after 0–2 MiB. The writer's WebRTC is @roamhq/wrtc in this process (`inprocess`:
 * the process dies by SIGSEGV) or in a host process (`isolated`: hosts die, this process goes
 * on). ROLE `offerer` (default) writes as the client does, on the channel it opened; `answerer`
 * as the proxy does, on the channel the far side opened, with the proxy's host. Then one more
 * pair must carry 8 MiB intact. Prints a JSON summary on the last line.
 *
 * @module
 */
import { type DataChannelConn, dataChannelConn } from "../../lib/snowflake/datachannel.ts";
import {
  type DataChannel,
  gatherLocalDescription,
  type PeerConnection,
  type WebRTC,
} from "../../lib/snowflake/webrtc.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { clientWebRTC } from "../../client/webrtc_process.ts";
import { proxyWebRTC } from "../../proxy/webrtc_process.ts";

const [mode = "isolated", trialsArg = "100", sizeArg = "65536", role = "offerer"] = Deno.args;
const hostEnds: string[] = [];
const log = (m: string) => hostEnds.push(m);
const sender: WebRTC = mode === "inprocess"
  ? wrtcWebRTC
  : await (role === "answerer" ? proxyWebRTC(log) : clientWebRTC(log));

/** The next channel the remote opens on `pc`. */
function arriving(pc: PeerConnection): Promise<DataChannel> {
  return new Promise((resolve) =>
    pc.addEventListener("datachannel", (e) => {
      resolve((e as RTCDataChannelEvent).channel as unknown as DataChannel);
    })
  );
}

function opened(dc: DataChannel): Promise<void> {
  if (dc.readyState === "open") return Promise.resolve();
  return new Promise((resolve) => dc.addEventListener("open", () => resolve()));
}

/** A connected pair: the writer's conn (sender's WebRTC) and the far channel (this process's). */
async function pair() {
  const a = sender.newPeerConnection({});
  const b = wrtcWebRTC.newPeerConnection({});
  const options = { maxMessageSize: Number(sizeArg), highWaterMark: 4 << 20 };
  let received = 0;
  const chunks: Uint8Array[] = [];
  const listen = (far: DataChannel) => {
    far.binaryType = "arraybuffer";
    far.addEventListener("message", (m) => {
      const data = new Uint8Array((m as MessageEvent).data as ArrayBuffer);
      received += data.byteLength;
      chunks.push(data);
    });
    return far;
  };
  let conn: Promise<DataChannelConn>;
  let far: Promise<DataChannel>;
  if (role === "answerer") {
    far = Promise.resolve(listen(b.createDataChannel("race", { ordered: true })));
    conn = arriving(a).then((dc) => dataChannelConn(dc, options));
  } else {
    conn = Promise.resolve(
      dataChannelConn(a.createDataChannel("race", { ordered: true }), options),
    );
    far = arriving(b).then(listen);
  }
  const [offerer, answerer] = role === "answerer" ? [b, a] : [a, b];
  const offer = await gatherLocalDescription(offerer, await offerer.createOffer(), 2000);
  await answerer.setRemoteDescription(offer);
  const answer = await gatherLocalDescription(answerer, await answerer.createAnswer(), 2000);
  await offerer.setRemoteDescription(answer);
  const [c, f] = await Promise.all([conn, far]);
  await opened(f);
  const close = () => {
    c.close();
    a.close();
    b.close();
  };
  return { conn: c, far: f, chunks, received: () => received, close };
}

const trials = Number(trialsArg);
const block = new Uint8Array(1 << 20).fill(7);
let writeErrors = 0;
for (let t = 0; t < trials; t++) {
  const p = await pair();
  const writer = p.conn.writable.getWriter();
  try {
    for (let k = 0; k < t % 3; k++) await writer.write(block);
    p.far.close();
    for (;;) await writer.write(block);
  } catch {
    writeErrors++;
  }
  p.close();
}

const payload = new Uint8Array(8 << 20).map((_, i) => (i * 2654435761) >>> 24);
const last = await pair();
const writer = last.conn.writable.getWriter();
// wrtc may deliver the far channel's first messages out of order (docs/PROXY.md, step 4): one
// message first, the rest once it arrived.
await writer.write(payload.subarray(0, 1));
while (last.received() < 1) await new Promise((r) => setTimeout(r, 10));
for (let off = 1; off < payload.byteLength; off += 1 << 20) {
  await writer.write(payload.subarray(off, off + (1 << 20)));
}
while (last.received() < payload.byteLength) await new Promise((r) => setTimeout(r, 10));
const got = new Uint8Array(payload.byteLength);
let off = 0;
for (const c of last.chunks) {
  got.set(c, off);
  off += c.byteLength;
}
last.close();
console.log(JSON.stringify({
  mode,
  trials,
  writeErrors,
  intact: got.every((v, i) => v === payload[i]),
  hostEnds,
}));
Deno.exit(0);
