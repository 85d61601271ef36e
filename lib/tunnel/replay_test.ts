import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { TUNNEL_REPLAY_WINDOW, TunnelReplayWindow } from "./replay.ts";

Deno.test("replay: duplicates are refused, in order or not", () => {
  const w = new TunnelReplayWindow();
  for (let i = 0; i < 1000; i++) assert(w.check(i));
  for (let i = 0; i < 1000; i++) assert(!w.check(i), `duplicate ${i}`);
});

Deno.test("replay: out-of-order counters within the window are accepted once", () => {
  const w = new TunnelReplayWindow();
  assert(w.check(9000));
  for (let i = 8999; i > 9000 - TUNNEL_REPLAY_WINDOW; i -= 7) assert(w.check(i), `late ${i}`);
  for (let i = 8999; i > 9000 - TUNNEL_REPLAY_WINDOW; i -= 7) assert(!w.check(i), `again ${i}`);
  assert(w.check(9001));
  assert(w.check(8000));
});

Deno.test("replay: counters older than the window (8128 by default) are refused", () => {
  const w = new TunnelReplayWindow();
  assertEquals(w.windowSize, 8128);
  assert(w.check(20_000));
  assert(w.check(20_000 - 8128), "exactly at the window edge");
  assert(!w.check(20_000 - 8129), "one past the edge");
  assert(!w.check(0));
});

Deno.test("replay: a big jump clears the ring; the window is configurable (64)", () => {
  const w = new TunnelReplayWindow(64);
  assert(w.check(1));
  assert(w.check(1_000_000));
  assert(!w.check(1));
  assert(w.check(1_000_000 - 64));
  assert(!w.check(1_000_000 - 65));
  for (let i = 1_000_001; i < 1_000_200; i++) assert(w.check(i));
  assert(!w.check(1_000_100));
  assertThrows(() => new TunnelReplayWindow(0), RangeError);
});

Deno.test("replay: counters at the limit, negative or not finite are refused", () => {
  const w = new TunnelReplayWindow(128, 1000);
  assert(w.check(999));
  assert(!w.check(1000));
  assert(!w.check(-1));
  assert(!w.check(Infinity));
  assert(!w.check(NaN));
});

Deno.test("replay: matches a reference set under a random walk", () => {
  const size = 256;
  const w = new TunnelReplayWindow(size);
  const seen = new Set<number>();
  let top = 0;
  let x = 12345;
  for (let i = 0; i < 50_000; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const c = Math.max(0, top + (x % 400) - 300);
    const expect = !seen.has(c) && !(top - c > size);
    assertEquals(w.check(c), expect, `counter ${c} top ${top}`);
    if (expect) {
      seen.add(c);
      top = Math.max(top, c);
    }
  }
});
