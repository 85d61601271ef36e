/**
 * spare-session: the standalone mode's session held ahead (client/spare_session.ts), with
 * stand-in sessions and hand-driven timers.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../lib/testing/assert.ts";
import { SpareSession } from "../../client/spare_session.ts";
import type { Timers } from "../../lib/snowflake/webrtc.ts";

class FakeSession {
  closed = false;
  constructor(readonly n: number) {}
  close() {
    this.closed = true;
  }
}

/** Timers that fire only when told to. */
function manualTimers() {
  const due = new Map<number, () => void>();
  let next = 0;
  const timers: Timers = {
    setTimeout: (fn) => {
      due.set(++next, fn);
      return next;
    },
    clearTimeout: (id) => due.delete(id as number),
  };
  const fireAll = () => {
    const fns = [...due.values()];
    due.clear();
    fns.forEach((f) => f());
  };
  return { timers, fireAll, pending: () => due.size };
}

function harness(refill: boolean) {
  const opened: FakeSession[] = [];
  const stop = new AbortController();
  const t = manualTimers();
  const spare = new SpareSession({
    open: () => {
      const s = new FakeSession(opened.length + 1);
      opened.push(s);
      return Promise.resolve(s);
    },
    refill,
    signal: stop.signal,
    timers: t.timers,
  });
  return { opened, stop, spare, ...t };
}

Deno.test("spare-session: without refill only the startup session is held, and never expires", async () => {
  const h = harness(false);
  assertEquals(h.opened.length, 1);
  assertEquals(h.pending(), 0);
  assertEquals((await h.spare.take())?.n, 1);
  assertEquals(h.spare.take(), null);
  assertEquals(h.opened.length, 1);
  h.stop.abort();
});

Deno.test("spare-session: with refill each take opens the next one, at most one ahead", async () => {
  const h = harness(true);
  assertEquals((await h.spare.take())?.n, 1);
  assertEquals(h.opened.length, 2);
  assert(h.spare.held);
  assertEquals((await h.spare.take())?.n, 2);
  assertEquals(h.opened.length, 3);
  h.stop.abort();
  await Promise.resolve();
  assert(h.opened[2]!.closed, "the unused spare is closed on stop");
  assert(!h.opened[0]!.closed && !h.opened[1]!.closed, "taken sessions belong to their owners");
});

Deno.test("spare-session: an unused refilled spare is closed when idle; the next take asks again", async () => {
  const h = harness(true);
  await h.spare.take();
  assertEquals(h.pending(), 1);
  h.fireAll();
  await Promise.resolve();
  assert(h.opened[1]!.closed);
  assert(!h.spare.held);
  assertEquals(h.spare.take(), null, "nothing held: this connection opens its own");
  assertEquals(h.opened.length, 3, "...and the next one is opened ahead again");
  h.stop.abort();
});

Deno.test("spare-session: a failing open is held as a rejection, not thrown", async () => {
  const stop = new AbortController();
  const spare = new SpareSession<FakeSession>({
    open: () => Promise.reject(new Error("no proxy")),
    refill: true,
    signal: stop.signal,
    timers: manualTimers().timers,
  });
  const p = spare.take();
  assert(p !== null);
  await assertRejects(() => p, Error, "no proxy");
  stop.abort();
});
