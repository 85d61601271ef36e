/**
 * A simulated outage for tests and the bench: two engines with Snowflake's
 * settings over a link that can be cut, on a virtual clock.
 *
 * @module
 */
import { KcpEngine } from "./engine.ts";

/** One-way delay of the simulated link: RTT = 40 ms. */
export const DELAY = 20;
const OUTAGE = 30_000;

/**
 * A sender and a receiver with Snowflake's settings over a link that can be
 * cut, on a virtual clock advanced 1 ms at a time.
 */
export function outagePair() {
  let now = 0;
  let linkUp = true;
  let holding = false;
  const flight: { at: number; to: KcpEngine; data: Uint8Array }[] = [];
  const held: { to: KcpEngine; data: Uint8Array }[] = [];
  const sentByA: Uint8Array[] = [];
  const wire = (to: () => KcpEngine, log?: Uint8Array[]) => (p: Uint8Array) => {
    log?.push(p.slice());
    if (linkUp) flight.push({ at: now + DELAY, to: to(), data: p.slice() });
    else if (holding) held.push({ to: to(), data: p.slice() });
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
      if (p.to.input(p.data, now) !== 0) throw new Error("the engine rejected a packet");
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
    /**
     * Cuts or restores the link. What is in flight at a cut is lost; with `hold`, it still
     * lands, and what is sent while the link is cut waits, as in a RedialPacketConn's queue,
     * and goes out when it is back.
     */
    setLink(up: boolean, hold = false) {
      linkUp = up;
      if (up) {
        for (const h of held.splice(0)) flight.push({ at: now + DELAY, ...h });
      } else {
        holding = hold;
        if (!hold) flight.length = 0;
      }
    },
  };
}

/** Starts a transfer, cuts the link while data is in flight, and runs 30 s. */
export function runOutage(
  withPathSignal: boolean,
  bytes: number,
  { hold = false, afterMs = 10 } = {},
) {
  const p = outagePair();
  p.a.send(new Uint8Array(bytes));
  for (let i = 0; i < afterMs; i++) p.step();
  if (p.a.waitSnd === 0) throw new Error("data should still be in flight when the link goes");
  p.setLink(false, hold);
  if (withPathSignal) p.a.setPathUp(false);
  const before = { ...p.a.stats };
  p.sentByA.length = 0;
  for (let i = 0; i < OUTAGE; i++) p.step();
  return { p, before };
}

/** Steps until the sender's unacknowledged count drops; returns the ms it took. */
export function msToFirstAck(p: ReturnType<typeof outagePair>): number {
  const start = p.now;
  const waiting = p.a.waitSnd;
  while (p.a.waitSnd === waiting && p.now - start < 120_000) p.step();
  return p.now - start;
}
