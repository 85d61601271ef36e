import { assert, assertEquals } from "../testing/assert.ts";
import { KcpEngine } from "./engine.ts";
import { CMD_ACK, CMD_PUSH, decodePacket } from "./segment.ts";

const DELAY = 20; // one way, so RTT = 40 ms
const OUTAGE = 30_000;

/**
 * A sender and a receiver with Snowflake's settings over a link that can be
 * cut, on a virtual clock advanced 1 ms at a time.
 */
function outagePair() {
  let now = 0;
  let linkUp = true;
  const flight: { at: number; to: KcpEngine; data: Uint8Array }[] = [];
  const sentByA: Uint8Array[] = [];
  const wire = (to: () => KcpEngine, log?: Uint8Array[]) => (p: Uint8Array) => {
    log?.push(p.slice());
    if (linkUp) flight.push({ at: now + DELAY, to: to(), data: p.slice() });
  };
  const a: KcpEngine = new KcpEngine(7, wire(() => b, sentByA));
  const b: KcpEngine = new KcpEngine(7, wire(() => a));
  for (const e of [a, b]) {
    e.setNoDelay(0, 10, 0, 1);
    e.setWindow(65535, 65535);
    e.stream = true;
  }
  let received = 0;
  const step = () => {
    now++;
    while (flight.length > 0 && flight[0]!.at <= now) {
      const p = flight.shift()!;
      assertEquals(p.to.input(p.data, now), 0);
      // As the session does: refill at once when the window slides.
      if (p.to.flushDue) p.to.flush();
    }
    a.update(now);
    b.update(now);
    for (let m = b.recv(); m !== null; m = b.recv()) received += m.length;
  };
  return {
    a,
    b,
    step,
    sentByA,
    get now() {
      return now;
    },
    get received() {
      return received;
    },
    setLink(up: boolean) {
      linkUp = up;
      if (!up) flight.length = 0;
    },
  };
}

/** Starts a transfer, cuts the link while data is in flight, and runs `OUTAGE` ms. */
function runOutage(withPathSignal: boolean, bytes: number) {
  const p = outagePair();
  p.a.send(new Uint8Array(bytes));
  for (let i = 0; i < 10; i++) p.step();
  assert(p.a.waitSnd > 0, "data should still be in flight when the link goes");
  p.setLink(false);
  if (withPathSignal) p.a.setPathUp(false);
  const before = { ...p.a.stats };
  p.sentByA.length = 0;
  for (let i = 0; i < OUTAGE; i++) p.step();
  return { p, before };
}

/** Steps until the sender's unacknowledged count drops; returns the ms it took. */
function msToFirstAck(p: ReturnType<typeof outagePair>): number {
  const start = p.now;
  const waiting = p.a.waitSnd;
  while (p.a.waitSnd === waiting && p.now - start < 120_000) p.step();
  return p.now - start;
}

Deno.test("redial: kcp engine without a carrier sends nothing and its timers stand still", () => {
  const { p, before } = runOutage(true, 200_000);
  const pushes = p.sentByA.flatMap((x) => decodePacket(x)).filter((s) => s.cmd === CMD_PUSH);
  assertEquals(pushes.length, 0, "no (re)transmission while the path is down");
  assertEquals(p.a.stats.rtoRetrans, before.rtoRetrans);
  assert(p.a.idle, "a session without a carrier needs no timer");
  assert(!p.a.dead);
  // New data written while down waits in the queue.
  p.a.send(new Uint8Array(5000));
  p.a.flush();
  assertEquals(p.sentByA.length, 0);
});

Deno.test("redial: kcp engine resumes within about one RTT when the carrier comes back after 30 s", () => {
  const { p } = runOutage(true, 200_000);
  p.setLink(true);
  p.a.setPathUp(true);
  const ms = msToFirstAck(p);
  console.log(`first acknowledgement ${ms} ms after the carrier came back (RTT ${2 * DELAY} ms)`);
  assert(ms <= 2 * DELAY + 2 * 10, `first ack after ${ms} ms`);
  assert(p.a.stats.resumeRetrans > 0);
  while (p.received < 200_000 && p.now < 200_000) p.step();
  assertEquals(p.received, 200_000);
});

Deno.test("redial: kcp engine leaves its RTO backoff when the peer is heard after a 30 s outage", () => {
  const { p, before } = runOutage(false, 4000);
  assert(p.a.stats.rtoRetrans > before.rtoRetrans, "without a signal the sender kept trying");
  p.setLink(true);
  // Nothing tells the sender; the peer's next packet (e.g. a smux keepalive) arrives.
  p.b.send(new Uint8Array(8));
  p.b.flush();
  const ms = msToFirstAck(p);
  console.log(`first acknowledgement ${ms} ms after the peer spoke again (RTT ${2 * DELAY} ms)`);
  assert(ms <= 2 * DELAY + DELAY + 2 * 10, `first ack after ${ms} ms`);
  while (p.received < 4000 && p.now < 200_000) p.step();
  assertEquals(p.received, 4000);
});

Deno.test("redial: kcp engine still acknowledges while its path is marked down", () => {
  const p = outagePair();
  p.a.setPathUp(false);
  p.b.send(new Uint8Array(3000));
  for (let i = 0; i < 100; i++) p.step();
  const cmds = p.sentByA.flatMap((x) => decodePacket(x)).map((s) => s.cmd);
  assert(cmds.includes(CMD_ACK));
  assert(!cmds.includes(CMD_PUSH));
  assertEquals(p.b.waitSnd, 0);
});
