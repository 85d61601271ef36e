import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { mulberry32 } from "../testing/fuzz.ts";
import { KcpEngine, PROBE_INIT } from "./engine.ts";
import { CMD_PUSH, CMD_WASK, CMD_WINS, decodePacket, encodeSegment } from "./segment.ts";

interface Link {
  loss: number;
  delay: number;
  jitter: number;
  dup: number;
}

/** Two engines over a simulated network with a virtual clock. */
function pair(link: Link, seed: number, setup: (e: KcpEngine) => void) {
  const random = mulberry32(seed);
  let now = 0;
  const flight: { at: number; to: KcpEngine; data: Uint8Array }[] = [];
  const wire = (to: () => KcpEngine) => (p: Uint8Array) => {
    const copies = random() < link.dup ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (random() < link.loss) continue;
      flight.push({ at: now + link.delay + random() * link.jitter, to: to(), data: p.slice() });
    }
  };
  const a: KcpEngine = new KcpEngine(0x1234, wire(() => b));
  const b: KcpEngine = new KcpEngine(0x1234, wire(() => a));
  setup(a);
  setup(b);
  const step = (ms: number) => {
    now += ms;
    flight.sort((x, y) => x.at - y.at);
    while (flight.length > 0 && flight[0]!.at <= now) {
      const p = flight.shift()!;
      assertEquals(p.to.input(p.data, now), 0);
    }
    a.update(now);
    b.update(now);
  };
  return {
    a,
    b,
    step,
    get now() {
      return now;
    },
  };
}

function transfer(link: Link, seed: number, stream: boolean, total: number) {
  const { a, b, step } = pair(link, seed, (e) => {
    e.setNoDelay(0, 10, 0, 1);
    e.setWindow(256, 256);
    e.stream = stream;
  });
  const data = new Uint8Array(total);
  const random = mulberry32(seed + 1);
  for (let i = 0; i < total; i++) data[i] = random() * 256;
  let sent = 0;
  const got: Uint8Array[] = [];
  let gotLen = 0;
  for (let t = 0; t < 600_000 && gotLen < total; t += 5) {
    while (sent < total && a.waitSnd < 256) {
      const n = Math.min(total - sent, 1 + Math.floor(random() * 5000));
      a.send(data.subarray(sent, sent + n));
      sent += n;
    }
    step(5);
    for (let m = b.recv(); m !== null; m = b.recv()) {
      got.push(m);
      gotLen += m.length;
    }
  }
  const out = new Uint8Array(gotLen);
  let o = 0;
  for (const m of got) {
    out.set(m, o);
    o += m.length;
  }
  assertEquals(out.length, total);
  assert(out.every((v, i) => v === data[i]), "received bytes differ");
  return { a, b, messages: got.length };
}

Deno.test("lossy: engine delivers a stream intact through loss, reorder and duplication", () => {
  const { a, b } = transfer({ loss: 0.1, delay: 20, jitter: 30, dup: 0.05 }, 7, true, 300_000);
  assert(a.stats.rtoRetrans > 0, "loss should have caused retransmissions");
  assert(b.stats.dupSegs > 0, "duplicates should have been detected");
});

Deno.test("lossy: engine delivers messages with fragments in message mode", () => {
  const { messages } = transfer({ loss: 0.05, delay: 10, jitter: 10, dup: 0 }, 9, false, 200_000);
  assert(messages > 1);
});

Deno.test("lossy: a clean link needs no retransmission", () => {
  const { a } = transfer({ loss: 0, delay: 15, jitter: 0, dup: 0 }, 3, true, 500_000);
  assertEquals(a.stats.rtoRetrans, 0);
});

Deno.test("lossy: fast retransmit repairs a hole before the RTO with resend=2", () => {
  const sent: Uint8Array[] = [];
  const a = new KcpEngine(1, (p) => sent.push(p.slice()));
  a.setNoDelay(0, 10, 2, 1);
  a.setWindow(128, 128);
  for (let i = 0; i < 6; i++) a.send(new Uint8Array(1000).fill(i));
  a.update(0);
  const acks: Uint8Array[] = [];
  const bOut = new KcpEngine(1, (p) => acks.push(p.slice()));
  bOut.setWindow(128, 128);
  // Deliver every packet except the first to the receiver, then feed its acks back.
  const segs = sent.flatMap((p) => decodePacket(p)).filter((s) => s.cmd === CMD_PUSH);
  assertEquals(segs.length, 6);
  for (const s of segs.slice(1)) bOut.input(encodeSegment(s), 5);
  bOut.update(5);
  // Each ack in its own packet: fastack counts packets that ack a later sn.
  for (const s of acks.flatMap((p) => decodePacket(p))) a.input(encodeSegment(s), 10);
  sent.length = 0;
  a.update(20); // far below the 200 ms RTO
  const re = sent.flatMap((p) => decodePacket(p)).filter((s) => s.cmd === CMD_PUSH);
  assertEquals(re.map((s) => s.sn), [0]);
  assertEquals(a.stats.fastRetrans, 1);
});

Deno.test("lossy: RTO backs off and a black-holed link is declared dead", () => {
  let packets = 0;
  const a = new KcpEngine(1, () => packets++);
  a.setNoDelay(0, 10, 0, 1);
  a.send(new Uint8Array(10));
  const times: number[] = [];
  let last = 0;
  for (let t = 0; t < 2_000_000 && !a.dead; t += 10) {
    a.update(t);
    if (packets !== last) {
      times.push(t);
      last = packets;
    }
  }
  assert(a.dead, "link should be dead");
  assertEquals(times.length, 20);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!), `gaps shrink: ${gaps}`);
  assert(gaps.at(-1)! >= 59_000 && gaps.at(-1)! <= 61_000, `RTO capped at 60 s: ${gaps.at(-1)}`);
});

Deno.test("lossy: a full receive window is probed (WASK) and reopened (WINS)", () => {
  const toB: Uint8Array[] = [];
  const toA: Uint8Array[] = [];
  const a = new KcpEngine(5, (p) => toB.push(p.slice()));
  const b = new KcpEngine(5, (p) => toA.push(p.slice()));
  a.setNoDelay(0, 10, 0, 1);
  b.setNoDelay(0, 10, 0, 1);
  a.setWindow(512, 128);
  b.setWindow(128, 128);
  a.stream = b.stream = true;
  a.send(new Uint8Array(400 * 1376));
  const cmds = (ps: Uint8Array[]) => ps.flatMap((p) => decodePacket(p)).map((s) => s.cmd);
  let sawWask = false;
  let t = 0;
  for (; t < PROBE_INIT * 3 && !sawWask; t += 10) {
    a.update(t);
    sawWask = cmds(toB).includes(CMD_WASK);
    for (const p of toB.splice(0)) b.input(p, t);
    b.update(t);
    for (const p of toA.splice(0)) a.input(p, t);
  }
  assert(sawWask, "sender should probe a zero window");
  assertEquals(a.rmtWnd, 0);
  assert(t >= PROBE_INIT, `probe waited ${t} ms`);
  while (b.recv() !== null) { /* the application reads */ }
  b.update(t + 10);
  assert(cmds(toA).includes(CMD_WINS), "receiver should announce its reopened window");
  for (const p of toA.splice(0)) a.input(p, t + 10);
  assert(a.rmtWnd > 0);
});

Deno.test("codec: engine rejects another conv, bad lengths and unknown commands", () => {
  const e = new KcpEngine(1, () => {});
  const seg = encodeSegment({
    conv: 1,
    cmd: CMD_PUSH,
    frg: 0,
    wnd: 1,
    ts: 0,
    sn: 0,
    una: 0,
    data: new Uint8Array(4),
  });
  assertEquals(e.input(seg.subarray(0, 10)), -1);
  const other = seg.slice();
  other[0] = 2;
  assertEquals(e.input(other), -1);
  assertEquals(e.input(seg.subarray(0, 27)), -2);
  const badCmd = seg.slice();
  badCmd[4] = 99;
  assertEquals(e.input(badCmd), -3);
  assertEquals(e.input(seg), 0);
  assertEquals([...e.recv()!], [0, 0, 0, 0]);
  assertThrows(() => e.setWindow(70000, 1), RangeError);
  assertThrows(() => e.setMtu(20), RangeError);
  assertThrows(() => new KcpEngine(-1, () => {}), RangeError);
  assertThrows(() => e.send(new Uint8Array(1376 * 256)), RangeError, "fragments");
});

/** Sends `total` bytes through a bottleneck (queue of 50 packets, 5 packets/ms, 5 ms delay). */
function bottleneck(smart: boolean, total: number) {
  let now = 0;
  const queue: { to: KcpEngine; data: Uint8Array }[] = [];
  let flight: { at: number; to: KcpEngine; data: Uint8Array }[] = [];
  const a: KcpEngine = new KcpEngine(9, (p) => {
    if (queue.length < 50) queue.push({ to: b, data: p.slice() });
  });
  const b: KcpEngine = new KcpEngine(
    9,
    (p) => flight.push({ at: now + 5, to: a, data: p.slice() }),
  );
  for (const e of [a, b]) {
    e.setNoDelay(0, 10, 0, 1);
    e.setWindow(4096, 4096);
    e.stream = true;
    e.smartSend = smart;
  }
  let got = 0;
  let sent = 0;
  for (; now < 120_000 && got < total; now++) {
    while (sent < total && a.waitSnd < 4096) {
      a.send(new Uint8Array(10_000));
      sent += 10_000;
    }
    for (let i = 0; i < 5 && queue.length > 0; i++) {
      const p = queue.shift()!;
      flight.push({ at: now + 5, to: p.to, data: p.data });
    }
    const due = flight.filter((f) => f.at <= now);
    flight = flight.filter((f) => f.at > now);
    for (const f of due) f.to.input(f.data, now);
    a.update(now);
    b.update(now);
    for (let m = b.recv(); m !== null; m = b.recv()) got += m.length;
  }
  const s = a.stats;
  return { got, ms: now, ratio: (s.segsSent + s.rtoRetrans + s.fastRetrans) / s.segsSent };
}

Deno.test("lossy: smart sending avoids retransmission storms at a bottleneck, ikcp mode does not", () => {
  const total = 3_000_000;
  const smart = bottleneck(true, total);
  const plain = bottleneck(false, total);
  assertEquals(smart.got, total);
  // ikcp's sending bursts the whole window into the queue, then backs off for seconds.
  assert(smart.ratio < 1.3, `smart sent ${smart.ratio.toFixed(2)}x`);
  assert(smart.ratio < plain.ratio, `smart ${smart.ratio} vs plain ${plain.ratio}`);
  assert(smart.ms < plain.ms, `smart took ${smart.ms} ms, plain ${plain.ms} ms`);
});

Deno.test("lossy: after a stall of the process, RTO retransmissions wait one tick for unread acks", () => {
  let packets = 0;
  const a = new KcpEngine(1, () => packets++);
  a.setNoDelay(0, 10, 0, 1);
  a.send(new Uint8Array(10));
  a.update(0);
  assertEquals(packets, 1);
  a.update(500); // the timer fired 490 ms late: the ack may be waiting in the socket
  assertEquals(a.stats.rtoRetrans, 0);
  a.update(510);
  assertEquals(a.stats.rtoRetrans, 1, "no ack came: retransmit on the next tick");
  // A loop that is always late still retransmits, every other tick at worst.
  const b = new KcpEngine(2, () => {});
  b.setNoDelay(0, 10, 0, 1);
  b.send(new Uint8Array(10));
  for (let t = 0; t <= 3000; t += 100) b.update(t);
  assert(b.stats.rtoRetrans >= 3, `${b.stats.rtoRetrans} retransmissions`);
});

/**
 * Sends `total` bytes over two lossless paths of different delay (5 and 60 ms each way),
 * every packet on the other path than the one before, as one session striped over two
 * proxies is: the slow path's segments arrive after later ones from the fast path.
 */
function twoPaths(total: number) {
  let now = 0;
  let flight: { at: number; to: KcpEngine; data: Uint8Array }[] = [];
  const striped = (to: () => KcpEngine) => {
    let slow = false;
    return (p: Uint8Array) => {
      slow = !slow;
      flight.push({ at: now + (slow ? 60 : 5), to: to(), data: p.slice() });
    };
  };
  const a: KcpEngine = new KcpEngine(3, striped(() => b));
  const b: KcpEngine = new KcpEngine(3, striped(() => a));
  for (const e of [a, b]) {
    e.setNoDelay(0, 10, 0, 1);
    e.setWindow(4096, 4096);
    e.stream = true;
  }
  let got = 0;
  let sent = 0;
  for (; now < 60_000 && got < total; now++) {
    while (sent < total && a.waitSnd < 1024) {
      a.send(new Uint8Array(10_000));
      sent += 10_000;
    }
    const due = flight.filter((f) => f.at <= now);
    flight = flight.filter((f) => f.at > now);
    for (const f of due) f.to.input(f.data, now);
    a.update(now);
    b.update(now);
    for (let m = b.recv(); m !== null; m = b.recv()) got += m.length;
  }
  const s = a.stats;
  return { got, retransmitted: (s.rtoRetrans + s.fastRetrans) / s.segsSent };
}

Deno.test("lossy: two paths of different delay cause few spurious retransmissions", () => {
  const r = twoPaths(3_000_000);
  assertEquals(r.got, 3_000_000);
  assert(r.retransmitted < 0.02, `${(r.retransmitted * 100).toFixed(1)}% retransmitted`);
});
