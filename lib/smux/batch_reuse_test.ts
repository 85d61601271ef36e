import { assertEquals } from "../testing/assert.ts";
import { randomBytes, sha256Hex } from "../testing/util.ts";
import { LossyPacketConn, memoryPacketPair } from "../net/mod.ts";
import { dialKcp } from "../kcp/session.ts";
import { listenKcp } from "../kcp/listener.ts";
import { SNOWFLAKE_KCP } from "../kcp/options.ts";
import { SmuxSession } from "./session.ts";
import type { SmuxStream } from "./stream.ts";

async function readAll(s: SmuxStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of s.readable) {
    parts.push(c.slice());
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("smux-reuse: reused batch buffers over a lossy KCP session keep every stream intact", async () => {
  const [a, b] = memoryPacketPair();
  const lossy = new LossyPacketConn(b, { loss: 0.05, reorder: 0.05 });
  const listener = listenKcp(lossy, SNOWFLAKE_KCP);
  const kcpClient = dialKcp(a, b.localAddr, SNOWFLAKE_KCP);
  const client = new SmuxSession(kcpClient, { client: true });
  const opening = client.openStream();
  const server = new SmuxSession(await listener.accept(), { client: false, reuseBatches: true });
  try {
    const streams = [await opening];
    for (let i = 1; i < 4; i++) streams.push(await client.openStream());
    const payloads = streams.map((_, i) => randomBytes(600_000 + i * 77_777));
    // The client writes a byte to each so the server accepts it, then reads the download.
    const reads = streams.map(async (s) => {
      const w = s.writable.getWriter();
      await w.write(new Uint8Array([1]));
      w.releaseLock();
      return await readAll(s);
    });
    for (let i = 0; i < streams.length; i++) {
      const s = await server.acceptStream();
      const r = s.readable.getReader();
      const { value } = await r.read();
      r.releaseLock();
      assertEquals(value?.length, 1);
      void (async () => {
        const w = s.writable.getWriter();
        const data = payloads[i]!;
        // Odd-sized writes so frames straddle batch buffers.
        for (let o = 0; o < data.length; o += 12_345) await w.write(data.subarray(o, o + 12_345));
        await w.close();
      })();
    }
    const got = await Promise.all(reads);
    for (let i = 0; i < got.length; i++) {
      assertEquals(await sha256Hex(got[i]!), await sha256Hex(payloads[i]!));
    }
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});
