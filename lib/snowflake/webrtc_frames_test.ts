/**
 * `wrtc-crash:` the framing between the client and its WebRTC host process: frames come out
 * whole however the pipe splits them, and frames queued together leave in one write.
 */
import { assertEquals } from "../testing/assert.ts";
import {
  frame,
  FrameWriter,
  json,
  Kind,
  readFrames,
  sentBytes,
  sentFrame,
} from "./webrtc_frames.ts";

/** A stream that hands `bytes` over in pieces of `size`. */
function pieces(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

Deno.test("wrtc-crash: frames survive any split of the byte stream and batched writes", async () => {
  const data = new Uint8Array(70_000).map((_, i) => i & 0xff);
  const frames = [
    frame(Kind.NewPeer, 1, { iceServers: [] }),
    frame(Kind.Send, 2, data),
    sentFrame(2, 70_000),
    frame(Kind.ClosePeer, 1),
  ];
  const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
  frames.reduce((off, f) => (all.set(f, off), off + f.byteLength), 0);
  for (const size of [1, 7, 9, 4096, 65536, all.byteLength]) {
    const got = [];
    for await (const f of readFrames(pieces(all, size))) got.push(f);
    assertEquals(got.map((f) => [f.kind, f.id]), [[1, 1], [5, 2], [14, 2], [3, 1]]);
    assertEquals(json(got[0]!), { iceServers: [] });
    assertEquals(got[1]!.payload, data);
    assertEquals(sentBytes(got[2]!), 70_000);
    assertEquals(got[3]!.payload.byteLength, 0);
  }

  const written: Uint8Array[] = [];
  const writer = new FrameWriter(new WritableStream({ write: (c) => void written.push(c) }));
  for (const f of frames) writer.write(f);
  await writer.close();
  assertEquals(written.length, 1, "frames queued in one task leave in one write");
  assertEquals(written[0], all);
});
