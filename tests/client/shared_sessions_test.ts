/**
 * shared-session: the standalone mode's sessions shared by settings (client/shared_sessions.ts),
 * with stand-in sessions and hand-driven timers. The same over the real chain is in
 * tests/client/shared_session_test.ts.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../lib/testing/assert.ts";
import {
  type SharedSession,
  SharedSessions,
  SILENT_SESSION_MS,
} from "../../client/shared_sessions.ts";
import { applyBridgeArgs, defaultClientConfig } from "../../lib/snowflake/client_config.ts";
import type { Conn } from "../../lib/net/mod.ts";
import type { Timers } from "../../lib/snowflake/webrtc.ts";

class FakeStream {
  closed = false;
  close() {
    this.closed = true;
  }
}

class FakeSession implements SharedSession {
  readonly closed: Promise<void>;
  isClosed = false;
  silentMs = 0;
  streams: FakeStream[] = [];
  #resolve!: () => void;
  constructor(readonly name: string, readonly max: number) {
    this.closed = new Promise((r) => (this.#resolve = r));
  }
  openStream(): Promise<Conn> {
    if (this.isClosed) return Promise.reject(new Error("session closed"));
    const s = new FakeStream();
    this.streams.push(s);
    return Promise.resolve(s as unknown as Conn);
  }
  close() {
    this.isClosed = true;
    this.#resolve();
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

function harness() {
  const started: FakeSession[] = [];
  const stop = new AbortController();
  const t = manualTimers();
  const shared = new SharedSessions<FakeSession>({
    start: (config) => {
      const s = new FakeSession(`session ${started.length + 1}`, config.max);
      started.push(s);
      return s;
    },
    signal: stop.signal,
    timers: t.timers,
  });
  return { started, stop, shared, ...t };
}

const flags = defaultClientConfig();
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("shared-session: the session prepared at startup carries every connection with its settings", async () => {
  const h = harness();
  h.shared.prepare(flags);
  assertEquals(h.started.length, 1);
  const a = await h.shared.open(flags);
  const b = await h.shared.open(applyBridgeArgs(flags, new Map()));
  const c = await h.shared.open({ ...flags, fronts: [] });
  assertEquals(h.started.length, 1, "one session");
  assert(a.session === b.session && b.session === c.session);
  assertEquals(h.started[0]!.streams.length, 3, "one stream each");
  h.stop.abort();
  assert(h.started[0]!.isClosed);
});

Deno.test("shared-session: releasing a connection closes only its stream; the last one arms the idle close", async () => {
  const h = harness();
  const a = await h.shared.open(flags);
  const b = await h.shared.open(flags);
  assertEquals(h.pending(), 0, "no idle timer while streams are open");
  a.release();
  a.release();
  assert(h.started[0]!.streams[0]!.closed && !h.started[0]!.streams[1]!.closed);
  assert(!h.started[0]!.isClosed);
  assertEquals(h.pending(), 0);
  b.release();
  assertEquals(h.pending(), 1);
  const c = await h.shared.open(flags);
  assertEquals(h.pending(), 0, "a new stream disarms it");
  assert(c.session === a.session);
  c.release();
  h.fireAll();
  assert(h.started[0]!.isClosed, "idle: closed");
  assertEquals(h.shared.sessions().length, 0);
  const d = await h.shared.open(flags);
  assertEquals(h.started.length, 2, "the next connection starts a new session");
  assert(d.session === h.started[1]);
  h.stop.abort();
});

Deno.test("shared-session: a session that died is replaced for the next connection", async () => {
  const h = harness();
  const a = await h.shared.open(flags);
  h.started[0]!.close();
  await tick();
  const b = await h.shared.open(flags);
  assertEquals(h.started.length, 2);
  assert(b.session !== a.session);
  a.release();
  assertEquals(h.pending(), 0, "the dead session's last stream arms nothing");
  h.stop.abort();
});

Deno.test("shared-session: a session that closed a moment ago is replaced at once", async () => {
  const h = harness();
  h.shared.prepare(flags);
  h.started[0]!.isClosed = true; // its smux closed; the closed promise has not run yet
  const a = await h.shared.open(flags);
  assertEquals(h.started.length, 2);
  assert(a.session === h.started[1]);
  h.stop.abort();
});

Deno.test("shared-session: a session silent past the bound is retired: new connections get a new one, its streams go on", async () => {
  const h = harness();
  const a = await h.shared.open(flags);
  h.started[0]!.silentMs = SILENT_SESSION_MS; // three keepalives may be late: still healthy
  const b = await h.shared.open(flags);
  assert(b.session === a.session);
  h.started[0]!.silentMs = SILENT_SESSION_MS + 1;
  const c = await h.shared.open(flags);
  assertEquals(h.started.length, 2, "a new session");
  assert(c.session === h.started[1]);
  assert(!h.started[0]!.isClosed, "the retired session keeps its streams");
  assert(!h.started[0]!.streams[0]!.closed && !h.started[0]!.streams[1]!.closed);
  assertEquals(h.shared.sessions(), [h.started[1]!]);
  a.release();
  assert(!h.started[0]!.isClosed);
  b.release();
  assert(h.started[0]!.isClosed, "closed with its last stream");
  assertEquals(h.pending(), 0, "no idle timer for the retired session");
  // A prepared session without streams is closed when it is retired.
  h.started[1]!.silentMs = SILENT_SESSION_MS + 1;
  c.release();
  h.shared.prepare(flags);
  assert(h.started[1]!.isClosed);
  assertEquals(h.started.length, 3);
  h.stop.abort();
});

Deno.test("shared-session: different settings (SOCKS credentials) get their own session", async () => {
  const h = harness();
  const a = await h.shared.open(flags);
  const b = await h.shared.open(applyBridgeArgs(flags, new Map([["max", ["2"]]])));
  const c = await h.shared.open(applyBridgeArgs(flags, new Map([["max", ["2"]]])));
  const d = await h.shared.open(applyBridgeArgs(flags, new Map([["max", ["1"]]])));
  assertEquals(h.started.map((s) => s.max), [1, 2]);
  assert(a.session !== b.session && b.session === c.session && d.session === a.session);
  h.stop.abort();
  assert(h.started.every((s) => s.isClosed), "shutdown closes every session");
  await assertRejects(() => h.shared.open(flags));
  a.release();
  assertEquals(h.pending(), 0, "nothing armed after shutdown");
});

Deno.test("shared-session: settings that cannot start a session are logged at startup and refused per connection", async () => {
  const logged: string[] = [];
  const stop = new AbortController();
  const shared = new SharedSessions<FakeSession>({
    start: () => {
      throw new SyntaxError("sqsqueue and url are exclusive");
    },
    signal: stop.signal,
    log: (m) => logged.push(m),
    timers: manualTimers().timers,
  });
  shared.prepare(flags);
  assertEquals(logged, ["no session opened at startup: sqsqueue and url are exclusive"]);
  await assertRejects(() => shared.open(flags), SyntaxError, "exclusive");
  stop.abort();
});
