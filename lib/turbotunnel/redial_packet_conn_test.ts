import { AsyncQueue, ClosedError, NamedAddr } from "../net/mod.ts";
import type { Addr, Packet, PacketConn } from "../net/mod.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { RedialPacketConn } from "./redial_packet_conn.ts";

const remote = new NamedAddr("turbotunnel", "server");

/** A PacketConn whose reads and writes the test controls. */
class FakeConn implements PacketConn {
  readonly localAddr = new NamedAddr("fake", "local");
  inbox = new AsyncQueue<Packet>();
  written: Uint8Array[] = [];
  writeError: Error | null = null;
  closed = false;
  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.inbox.shift(signal);
  }
  writeTo(data: Uint8Array, _addr: Addr): Promise<void> {
    if (this.writeError) return Promise.reject(this.writeError);
    this.written.push(data);
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
    this.inbox.close();
  }
}

/** A dialer handing out FakeConns, with a way to wait for the n-th dial. */
function fakeDialer() {
  const conns: FakeConn[] = [];
  const waiters: (() => void)[] = [];
  return {
    conns,
    dial: (_signal: AbortSignal): Promise<PacketConn> => {
      const c = new FakeConn();
      conns.push(c);
      for (const w of waiters.splice(0)) w();
      return Promise.resolve(c);
    },
    async dialed(n: number): Promise<FakeConn> {
      while (conns.length < n) await new Promise<void>((r) => waiters.push(r));
      return conns[n - 1]!;
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("redial: redials after a read error, without surfacing it", async () => {
  const d = fakeDialer();
  const errors: unknown[] = [];
  const r = new RedialPacketConn(remote, d.dial, {
    retryDelayMs: 0,
    onError: (e) => errors.push(e),
  });
  const c1 = await d.dialed(1);
  c1.inbox.push({ data: new Uint8Array([1]), addr: c1.localAddr });
  const got = await r.readFrom();
  assertEquals(got.data, new Uint8Array([1]));
  assertEquals(got.addr, remote);
  c1.inbox.close(new Error("proxy went away")); // the next read fails
  const c2 = await d.dialed(2);
  assert(c1.closed, "the failed conn is closed");
  c2.inbox.push({ data: new Uint8Array([2]), addr: c2.localAddr });
  assertEquals((await r.readFrom()).data, new Uint8Array([2]));
  await r.writeTo(new Uint8Array([3]), remote);
  await tick();
  assertEquals(c2.written, [new Uint8Array([3])]);
  assertEquals(r.dials, 2);
  assertEquals((errors[0] as Error).message, "proxy went away");
  r.close();
  await r.done;
});

Deno.test("redial: redials after a write error and keeps sending on the new conn", async () => {
  const d = fakeDialer();
  const r = new RedialPacketConn(remote, d.dial, { retryDelayMs: 0 });
  const c1 = await d.dialed(1);
  await r.writeTo(new Uint8Array([1]), remote);
  await tick();
  assertEquals(c1.written, [new Uint8Array([1])]);
  c1.writeError = new Error("broken pipe");
  await r.writeTo(new Uint8Array([2]), remote); // lost with c1; KCP would retransmit
  const c2 = await d.dialed(2);
  await r.writeTo(new Uint8Array([3]), remote);
  await tick();
  assertEquals(c2.written, [new Uint8Array([3])]);
  assert(c1.closed);
  r.close();
  await r.done;
});

Deno.test("redial: retries a failed dial and queues writes meanwhile", async () => {
  let attempts = 0;
  const conn = new FakeConn();
  const r = new RedialPacketConn(remote, () => {
    attempts++;
    return attempts < 3 ? Promise.reject(new Error("no proxy")) : Promise.resolve(conn);
  }, { retryDelayMs: 5 });
  await r.writeTo(new Uint8Array([7]), remote);
  while (conn.written.length === 0) await new Promise((res) => setTimeout(res, 5));
  assertEquals(conn.written, [new Uint8Array([7])]);
  assertEquals([attempts, r.dialErrors, r.dials], [3, 2, 1]);
  r.close();
  await r.done;
});

Deno.test("redial: drops writes beyond the queue while no conn is up", async () => {
  const r = new RedialPacketConn(
    remote,
    (signal) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    {
      queueSize: 4,
    },
  );
  for (let i = 0; i < 10; i++) await r.writeTo(new Uint8Array([i]), remote);
  assertEquals(r.drops, 6);
  r.close();
  await r.done;
});

Deno.test("redial: close stops reads, writes, the current conn and dialing", async () => {
  const d = fakeDialer();
  const r = new RedialPacketConn(remote, d.dial, { retryDelayMs: 0 });
  const c1 = await d.dialed(1);
  const pending = r.readFrom();
  r.close();
  await assertRejects(() => pending, ClosedError);
  await assertRejects(() => r.writeTo(new Uint8Array(1), remote), ClosedError);
  await r.done;
  assert(c1.closed);
  await tick();
  assertEquals(d.conns.length, 1);
});
