import { assert, assertEquals } from "../testing/assert.ts";
import { CMD_ACK, CMD_PUSH, decodePacket } from "./segment.ts";
import { DELAY, msToFirstAck, outagePair, runOutage } from "./outage_sim.ts";

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

Deno.test("redial: acknowledgements held through a 30 s outage do not slow the resumed sender", () => {
  // The receiver's acknowledgements of the last data before the cut wait in its queue and echo
  // send times from before the outage: they time the outage, not the path.
  const { p } = runOutage(true, 2_000_000, { hold: true, afterMs: 45 });
  p.setLink(true);
  p.a.setPathUp(true);
  let maxRto = 0;
  while (p.received < 2_000_000 && p.now < 200_000) {
    p.step();
    maxRto = Math.max(maxRto, p.a.rto);
  }
  assertEquals(p.received, 2_000_000);
  assert(maxRto < 1000, `RTO rose to ${maxRto} ms after the outage (RTT ${2 * DELAY} ms)`);
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
