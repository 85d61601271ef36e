/**
 * `wrtc-crash:` the framing between the client and its WebRTC host process: frames come out
 * whole however the link splits them, and frames queued together leave in one write.
 */
import { assertEquals } from "../testing/assert.ts";
import {
  type Frame,
  frame,
  FrameWriter,
  json,
  Kind,
  readFrames,
  sentBytes,
  sentFrame,
} from "./webrtc_frames.ts";

/** A link that reads `bytes` in pieces of at most `size`. */
function pieces(bytes: Uint8Array, size: number) {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= bytes.byteLength) return Promise.resolve(null);
      const n = Math.min(size, p.byteLength, bytes.byteLength - off);
      p.set(bytes.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("wrtc-crash: frames survive any split of the byte stream and batched writes", async () => {
  const data = new Uint8Array(300_000).map((_, i) => i & 0xff);
  const frames = [
    frame(Kind.NewPeer, 1, { iceServers: [] }),
    frame(Kind.Send, 2, data),
    sentFrame(2, 300_000),
    frame(Kind.ClosePeer, 1),
  ];
  const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
  frames.reduce((off, f) => (all.set(f, off), off + f.byteLength), 0);
  for (const size of [1, 7, 9, 4096, 65536, all.byteLength]) {
    const got: Frame[] = [];
    await readFrames(pieces(all, size), (f) => got.push(f));
    assertEquals(got.map((f) => [f.kind, f.id]), [[1, 1], [5, 2], [14, 2], [3, 1]]);
    assertEquals(json(got[0]!), { iceServers: [] });
    assertEquals(got[1]!.payload, data);
    assertEquals(sentBytes(got[2]!), 300_000);
    assertEquals(got[3]!.payload.byteLength, 0);
  }

  const written: Uint8Array[] = [];
  const writer = new FrameWriter({
    write: (c) => Promise.resolve(written.push(c.slice()) && c.byteLength),
    close: () => {},
  });
  for (const f of frames) writer.write(f);
  await writer.close();
  assertEquals(written.length, 1, "frames queued in one task leave in one write");
  assertEquals(written[0], all);
});
