import { CMD_ACK, CMD_PUSH, encodeSegment } from "../kcp/segment.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { PathMonitor } from "./path_monitor.ts";

const push = (sn: number, len = 1000) =>
  encodeSegment({
    conv: 1,
    cmd: CMD_PUSH,
    frg: 0,
    wnd: 128,
    ts: 0,
    sn,
    una: 0,
    data: new Uint8Array(len),
  });
const ack = (sn: number, una = 0) =>
  encodeSegment({
    conv: 1,
    cmd: CMD_ACK,
    frg: 0,
    wnd: 128,
    ts: 0,
    sn,
    una,
    data: new Uint8Array(0),
  });

/** Picks `n` times for 1000-byte packets at `now`; counts per path. */
function shares(m: PathMonitor, n: number, now: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const id = m.pick(1000, now)!;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

Deno.test("multipath: equal fresh paths share packets evenly", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  const c = m.add("c", 0);
  const s = shares(m, 300, 0);
  for (const id of [a, b, c]) assertEquals(s.get(id), 100);
});

Deno.test("multipath: a path delivering a third as fast gets about a third as many packets", () => {
  const m = new PathMonitor();
  const fast = m.add("fast", 0);
  const slow = m.add("slow", 0);
  // Over 2 s, the fast path receives 3 MB, the slow one 1 MB.
  for (let t = 0; t <= 2000; t += 10) {
    m.received(fast, new Uint8Array(15_000), t);
    m.received(slow, new Uint8Array(5_000), t);
  }
  const s = shares(m, 400, 2000);
  const ratio = s.get(fast)! / s.get(slow)!;
  assert(ratio > 2.5 && ratio < 3.5, `fast/slow = ${ratio}`);
});

Deno.test("multipath: a longer RTT lowers a path's share", () => {
  const m = new PathMonitor();
  const near = m.add("near", 0);
  const far = m.add("far", 0);
  let sn = 0;
  for (let t = 0; t < 2000; t += 100) {
    m.sent(near, push(sn), t);
    m.received(near, ack(sn++), t + 20);
    m.sent(far, push(sn), t);
    m.received(far, ack(sn++), t + 80);
  }
  assert(m.get(near)!.srtt! < 25 && m.get(far)!.srtt! > 70);
  const s = shares(m, 300, 2100);
  assert(s.get(near)! > 2 * s.get(far)!, JSON.stringify([...s]));
});

Deno.test("multipath: an ACK or una on any path credits the path the data went out on", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  m.sent(a, push(1), 0);
  m.sent(a, push(2), 0);
  assertEquals(m.get(a)!.pending, 2);
  m.received(b, ack(1), 50);
  assertEquals(m.get(a)!.pending, 1);
  assertEquals(m.get(a)!.srtt, 50);
  m.received(b, ack(7, 3), 60);
  assertEquals(m.get(a)!.pending, 0);
  assertEquals(m.get(a)!.lastProgress, 60);
});

Deno.test("multipath: a stalled path gets no packets while another is healthy", () => {
  const m = new PathMonitor();
  const good = m.add("good", 0);
  const bad = m.add("bad", 0);
  m.sent(bad, push(1), 0);
  m.sent(good, push(2), 0);
  m.received(good, ack(2), 30);
  const s = shares(m, 50, 600);
  assertEquals(s.get(bad), undefined);
  assertEquals(s.get(good), 50);
});

Deno.test("multipath: unacknowledged data for max(3 × RTT, 1 s) kills a path, not before", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  let sn = 0;
  // RTT 500 ms on both, so the deadline is 1.5 s.
  for (let t = 0; t < 5000; t += 500) {
    m.sent(a, push(sn), t);
    m.received(a, ack(sn++), t + 500);
    m.sent(b, push(sn), t);
    m.received(a, ack(sn++), t + 500);
  }
  assertEquals(m.deadline(m.get(a)!), 1500);
  // From 5000 on, what b sends is never acknowledged; a keeps progressing.
  m.sent(b, push(1000), 5000);
  for (let t = 5000; t <= 6400; t += 100) {
    m.sent(a, push(sn), t);
    m.received(a, ack(sn++), t + 100);
    assertEquals(m.dead(t + 100), [], `at ${t + 100}`);
  }
  m.received(a, ack(sn), 6600);
  const dead = m.dead(6600);
  assertEquals(dead.map((d) => d.id), [b]);
  assert(/unacknowledged/.test(dead[0]!.reason));
});

Deno.test("multipath: the deadline is at least 1 s on a fast path", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  m.sent(a, push(1), 0);
  m.received(a, ack(1), 10);
  m.sent(b, push(2), 100);
  m.sent(a, push(3), 200);
  m.received(a, ack(3), 210);
  assertEquals(m.dead(1000), []);
  assertEquals(m.dead(1200).map((d) => d.id), [b]);
});

Deno.test("multipath: a path that receives nothing while the others receive plenty dies", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  for (let t = 0; t < 1000; t += 10) {
    m.received(a, new Uint8Array(1400), t);
    m.received(b, new Uint8Array(1400), t);
  }
  // b goes quiet at 1000 while a keeps receiving: dead after twice the 1 s deadline.
  for (let t = 1000; t < 3000; t += 10) {
    m.received(a, new Uint8Array(1400), t);
    assertEquals(m.dead(t), []);
  }
  m.received(a, new Uint8Array(1400), 3050);
  assertEquals(m.dead(3050).map((d) => d.id), [b]);
});

Deno.test("multipath: when the whole session goes quiet no path dies", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  // The end of a download: data arrives on a, the client's ACKs (not data) go out on b.
  for (let t = 0; t < 1000; t += 10) {
    m.received(a, push(t), t);
    m.sent(b, ack(t), t);
  }
  for (let t = 1000; t <= 60_000; t += 100) assertEquals(m.dead(t), []);
  // Lone unacknowledged data is not blamed on its path while nothing later is acknowledged,
  // even if the other path receives (a busy machine delays every path alike).
  m.sent(b, push(5), 60_000);
  m.received(a, new Uint8Array(100), 61_500);
  assertEquals(m.dead(62_000), []);
});

Deno.test("multipath: a path that pauses now and then is given twice its longest pause", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  // b delivers in bursts 1.5 s apart; a delivers steadily.
  for (let t = 0; t <= 6000; t += 10) {
    m.received(a, new Uint8Array(1400), t);
    if (t % 1500 === 0) m.received(b, new Uint8Array(1400), t);
    assertEquals(m.dead(t), [], `at ${t}`);
  }
  for (let t = 6000; t <= 9000; t += 10) {
    m.received(a, new Uint8Array(1400), t);
    assertEquals(m.dead(t), [], `at ${t}`);
  }
  m.received(a, new Uint8Array(1400), 9100);
  assertEquals(m.dead(9100).map((d) => d.id), [b]);
});

Deno.test("multipath: when a path dies the others get a fresh deadline", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  const c = m.add("c", 0);
  m.sent(b, push(1), 0);
  // a dies at 900; the ACK of b's segment may have been lost with it.
  m.remove(a, 900);
  m.sent(c, push(2), 950);
  m.received(c, ack(2), 960);
  assertEquals(m.dead(1500), []);
  assertEquals(m.dead(2000).map((d) => d.id), [b]);
});

Deno.test("multipath: a whole session gone quiet counts as silent only while it waits", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  const b = m.add("b", 0);
  // An idle session: everything received in order, everything sent acknowledged.
  m.sent(a, push(0), 0);
  m.received(b, ack(0, 1), 50);
  m.received(a, push(0), 60);
  m.received(b, push(1), 70);
  assertEquals(m.allSilent(5000), undefined);
  // A hole in what the server sent: segment 2 lost, 3 received.
  m.received(a, push(3), 5000);
  assertEquals(m.allSilent(5500), undefined, "progress within the deadline");
  const hole = m.allSilent(6100);
  assertEquals(hole?.silentMs, 1100);
  assert(/hole/.test(hole!.waitingFor), hole!.waitingFor);
  m.received(b, push(2), 6200);
  assertEquals(m.allSilent(9000), undefined, "the hole filled");
  // Data of ours unacknowledged.
  m.sent(b, push(1), 9000);
  assertEquals(m.allSilent(9900), undefined, "sent within the deadline");
  const owed = m.allSilent(10_100);
  assert(/unacknowledged/.test(owed!.waitingFor), owed!.waitingFor);
  assertEquals(owed!.silentMs, 3900);
  assertEquals(m.lastProgress, 6200);
});

Deno.test("multipath: a new path is no progress of the session", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  m.sent(a, push(0), 0);
  assert(m.allSilent(1100) !== undefined);
  m.add("spare", 1100);
  assertEquals(m.allSilent(1500), undefined, "the spare's own deadline runs");
  assertEquals(m.allSilent(2200)?.silentMs, 1100);
});

Deno.test("multipath: a silent session mid-message waits, even with nothing owed or missing", () => {
  const m = new PathMonitor();
  const a = m.add("a", 0);
  m.received(a, push(0), 10);
  assertEquals(m.allSilent(2000), undefined);
  assertEquals(m.allSilent(2000, true)?.waitingFor, "the rest of a message");
});
