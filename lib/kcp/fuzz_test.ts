import { assert, assertEquals } from "../testing/assert.ts";
import { mulberry32 } from "../testing/fuzz.ts";
import { memoryPacketPair, NamedAddr } from "../net/mod.ts";
import { KcpEngine } from "./engine.ts";
import { openNone, sealNone } from "./crypt.ts";
import { listenKcp } from "./listener.ts";
import { SNOWFLAKE_KCP } from "./options.ts";
import { encodeHeader, OVERHEAD } from "./segment.ts";

/** A plausible packet of 1–4 segments for `conv`, then randomly mutated (or pure noise). */
function packet(random: () => number, conv: number, base: number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  if (random() < 0.1) {
    const noise = new Uint8Array(int(1500));
    for (let i = 0; i < noise.length; i++) noise[i] = int(256);
    return noise;
  }
  const segs = 1 + int(4);
  const out = new Uint8Array(segs * (OVERHEAD + 300));
  let o = 0;
  for (let i = 0; i < segs; i++) {
    const len = int(300);
    o = encodeHeader(
      out,
      o,
      conv,
      81 + int(4),
      random() < 0.95 ? 0 : int(4),
      int(65536),
      int(2 ** 32),
      (base + int(400) - 50) >>> 0,
      (base + int(400) - 50) >>> 0,
      len,
    );
    o += len;
  }
  const p = out.subarray(0, o);
  const mutations = int(4);
  for (let m = 0; m < mutations; m++) {
    const r = random();
    if (r < 0.5 && p.length > 0) p[int(p.length)] = int(256);
    else if (r < 0.8) return p.subarray(0, int(p.length + 1));
    else p.set([int(256), int(256), int(256), int(256)], Math.max(0, int(p.length) - 4) & ~3);
  }
  return p;
}

Deno.test("fuzz: 100,000 random and mutated packets into engine.input neither throw nor grow memory", () => {
  const random = mulberry32(1);
  let out = 0;
  const e = new KcpEngine(0xabc, () => out++);
  e.setNoDelay(0, 10, 2, 1);
  e.setWindow(128, 128);
  e.stream = true;
  let now = 0;
  let received = 0;
  let heapBase = 0;
  let peakBuffered = 0;
  let bytesIn = 0;
  for (let i = 0; i < 100_000; i++) {
    const p = packet(random, random() < 0.9 ? 0xabc : 0xabd, i >> 4);
    bytesIn += p.length;
    const r = e.input(p, now);
    assert(r <= 0 && r >= -3, `code ${r}`);
    if (i % 50 === 0) {
      now += 10;
      if (e.waitSnd < 64) e.send(new Uint8Array(2000));
      e.update(now);
      // Half the time the application does not read: the receive side must stay within its window.
      if ((i / 50) % 200 < 100) {
        for (let m = e.recv(); m !== null; m = e.recv()) received += m.length;
      }
      assert(e.waitSnd <= 64 + 2, `waitSnd ${e.waitSnd}`);
      peakBuffered = Math.max(peakBuffered, e.bufferedSegments);
      // Send side (66) + receive buffer and queue (a window each).
      assert(e.bufferedSegments <= 66 + 2 * e.rcvWnd, `${e.bufferedSegments} segments held`);
    }
    if (i === 10_000) heapBase = Deno.memoryUsage().heapUsed;
  }
  const growth = Deno.memoryUsage().heapUsed - heapBase;
  console.log(
    `${(bytesIn / 1e6).toFixed(0)} MB in; peak ${peakBuffered} segments held; heap ` +
      `${(growth / 1e6).toFixed(1)} MB above its level after 10,000 packets`,
  );
  // Keeping even a fifth of what went in would show.
  assert(growth < bytesIn / 5, `heap grew ${growth} bytes`);
  assert(out > 0);
  assert(received > 0, "some fuzzed PUSH segments should have been delivered");
});

Deno.test("fuzz: 100,000 packets into the crypt decoder: only intact frames pass", () => {
  const random = mulberry32(2);
  let passed = 0;
  for (let i = 0; i < 100_000; i++) {
    const body = packet(random, 1, 0);
    const framed = new Uint8Array(20 + body.length);
    framed.set(body, 20);
    sealNone(framed);
    const kind = i % 3;
    if (kind === 0) {
      const got = openNone(framed);
      assert(got !== null && got.length === body.length);
      passed++;
    } else if (kind === 1) {
      // One flipped bit after the nonce always breaks a CRC32.
      const bit = 128 + Math.floor(random() * (framed.length * 8 - 128));
      framed[bit >> 3]! ^= 1 << (bit & 7);
      assertEquals(openNone(framed), null);
    } else {
      openNone(framed.subarray(0, Math.floor(random() * framed.length)));
    }
  }
  assertEquals(passed, 33_334);
});

Deno.test({
  name: "fuzz: 100,000 packets from 64 addresses into the listener demux stay bounded",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const random = mulberry32(3);
    const [a, b] = memoryPacketPair();
    const listener = listenKcp(b, { ...SNOWFLAKE_KCP, sndWnd: 128, rcvWnd: 128 });
    const addrs = Array.from({ length: 64 }, (_, i) => new NamedAddr("memory", `peer${i}`));
    const convs = [1, 2, 3, 0xffffffff];
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      const conv = convs[Math.floor(random() * convs.length)]!;
      const base = random() < 0.3 ? 0 : Math.floor(random() * 1000);
      listener.input(packet(random, conv, base), addrs[Math.floor(random() * addrs.length)]!);
      if (i % 1000 === 0) {
        // Accept some, so that replacement and the backlog both happen.
        for (let k = 0; k < 8; k++) {
          const ac = new AbortController();
          ac.abort();
          try {
            (await listener.accept(ac.signal)).close();
            accepted++;
          } catch { /* none waiting */ }
        }
        await new Promise((r) => setTimeout(r, 0));
      }
      assert(listener.numSessions <= 64);
    }
    const s = listener.stats;
    assertEquals(s.packetsIn, 100_000);
    assert(s.sessionsCreated > 0 && s.badPackets > 0, JSON.stringify(s));
    assert(accepted > 0);
    listener.close();
    a.close();
  },
});
