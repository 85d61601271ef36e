import { assert, assertEquals, assertNotEquals } from "../testing/assert.ts";
import { mulberry32 } from "../testing/fuzz.ts";
import { SegmentPool } from "./segment_pool.ts";
import { KcpEngine } from "./engine.ts";

Deno.test("kcp-pool: a given-back buffer is reused; beyond the cap it is left to the GC", () => {
  const pool = new SegmentPool(4 * 100);
  const a = pool.take(100);
  assertEquals(a.length, 100);
  assertEquals(pool.freeBytes, 4 * 100); // more of the chunk, up to the cap
  const b = pool.take(100);
  assertNotEquals(a.byteOffset, b.byteOffset);
  assertEquals(pool.freeBytes, 3 * 100);
  pool.give(a);
  assert(pool.take(100) === a);
  pool.give(a);
  pool.give(b);
  assertEquals(pool.freeBytes, 4 * 100);
  pool.give(new Uint8Array(100));
  assertEquals(pool.freeBytes, 4 * 100);
});

Deno.test("kcp-pool: recycled send buffers never corrupt data in flight", () => {
  // Two engines through a lossy, reordering link; every payload byte is checked.
  const toB: Uint8Array[] = [];
  const toA: Uint8Array[] = [];
  const rand = mulberry32(1);
  const a = new KcpEngine(1, (p) => toB.push(p.slice()));
  const b = new KcpEngine(1, (p) => toA.push(p.slice()));
  for (const e of [a, b]) e.setNoDelay(1, 10, 2, 1);
  a.stream = true;
  b.stream = true;
  const total = 400_000;
  const sent = new Uint8Array(total);
  for (let i = 0; i < total; i++) sent[i] = (i * 7 + (i >> 11)) & 0xff;
  let off = 0;
  const got: Uint8Array[] = [];
  let gotBytes = 0;
  for (let now = 0; gotBytes < total && now < 600_000; now += 10) {
    while (off < total && a.waitSnd < a.sendCapacity) {
      const n = Math.min(total - off, 1 + Math.floor(rand() * 5000));
      a.send(sent.subarray(off, off + n));
      off += n;
    }
    for (const [link, to] of [[toB, b], [toA, a]] as const) {
      const q = link.splice(0);
      if (rand() < 0.3) q.reverse();
      for (const p of q) if (rand() > 0.1) to.input(p);
    }
    a.update(now);
    b.update(now);
    for (let m; (m = b.recv()) !== null;) {
      got.push(m);
      gotBytes += m.length;
    }
  }
  assertEquals(gotBytes, total);
  const all = new Uint8Array(total);
  let p = 0;
  for (const m of got) {
    all.set(m, p);
    p += m.length;
  }
  assertEquals(all, sent);
});
