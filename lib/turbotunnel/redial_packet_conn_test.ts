import { ClosedError, type MemoryConn, memoryConnPair, NamedAddr } from "../net/mod.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { ClientID } from "./client_id.ts";
import { QueuePacketConn } from "./queue_packet_conn.ts";
import { RedialPacketConn } from "./redial_packet_conn.ts";
import { serveCarrier } from "./carrier.ts";

const remote = new NamedAddr("turbotunnel", "server");

/** A server QueuePacketConn and a dialer whose every carrier is a memory pair served by it. */
function serverAndDialer() {
  const server = new QueuePacketConn(new NamedAddr("turbotunnel", "server"), { autoSweep: false });
  const carriers: MemoryConn[] = [];
  const waiters: (() => void)[] = [];
  return {
    server,
    carriers,
    dial: (_signal: AbortSignal): Promise<MemoryConn> => {
      const [c, s] = memoryConnPair();
      carriers.push(c);
      void serveCarrier(s, (id) => server.endpoint(id));
      for (const w of waiters.splice(0)) w();
      return Promise.resolve(c);
    },
    async dialed(n: number): Promise<MemoryConn> {
      while (carriers.length < n) await new Promise<void>((r) => waiters.push(r));
      return carriers[n - 1]!;
    },
  };
}

Deno.test("redial: sends the ClientID on every carrier and packets both ways", async () => {
  const d = serverAndDialer();
  const id = ClientID.random();
  const r = new RedialPacketConn(id, remote, d.dial, { retryDelayMs: 0 });
  await r.writeTo(new Uint8Array([1, 2, 3]), remote);
  const p = await d.server.readFrom();
  assertEquals(p.data, new Uint8Array([1, 2, 3]));
  assertEquals(p.addr.toString(), id.hex);
  await d.server.writeTo(new Uint8Array([4]), p.addr);
  const back = await r.readFrom();
  assertEquals(back.data, new Uint8Array([4]));
  assertEquals(back.addr, remote);
  r.close();
  await r.done;
  d.server.close();
});

Deno.test("redial: a carrier that dies is replaced with the same ClientID", async () => {
  const d = serverAndDialer();
  const id = ClientID.random();
  const errors: unknown[] = [];
  const r = new RedialPacketConn(id, remote, d.dial, {
    retryDelayMs: 0,
    onError: (e) => errors.push(e),
  });
  const c1 = await d.dialed(1);
  await r.writeTo(new Uint8Array([1]), remote);
  assertEquals((await d.server.readFrom()).data, new Uint8Array([1]));
  c1.close();
  await d.dialed(2);
  await r.writeTo(new Uint8Array([2]), remote);
  const p = await d.server.readFrom();
  assertEquals(p.data, new Uint8Array([2]));
  assertEquals(p.addr.toString(), id.hex, "same ClientID on the new carrier");
  assertEquals(r.dials, 2);
  assert(errors.length <= 1);
  r.close();
  await r.done;
  d.server.close();
});

Deno.test("redial: retries a failed dial with the delay", async () => {
  const d = serverAndDialer();
  let attempts = 0;
  const r = new RedialPacketConn(ClientID.random(), remote, (signal) => {
    attempts++;
    return attempts < 3 ? Promise.reject(new Error("no proxy")) : d.dial(signal);
  }, { retryDelayMs: 5 });
  await r.writeTo(new Uint8Array([7]), remote);
  assertEquals((await d.server.readFrom()).data, new Uint8Array([7]));
  assertEquals([attempts, r.dialErrors, r.dials], [3, 2, 1]);
  r.close();
  await r.done;
  d.server.close();
});

Deno.test("redial: the send queue stays bounded while no carrier is up", async () => {
  const r = new RedialPacketConn(
    ClientID.random(),
    remote,
    (signal) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    { sendLimits: { packets: 4 } },
  );
  for (let i = 0; i < 10; i++) await r.writeTo(new Uint8Array([i]), remote);
  assertEquals(r.sendDrops, 6);
  r.close();
  await r.done;
});

Deno.test("redial: close stops reads, writes, the current carrier and dialing", async () => {
  const d = serverAndDialer();
  const r = new RedialPacketConn(ClientID.random(), remote, d.dial, { retryDelayMs: 0 });
  const c1 = await d.dialed(1);
  const pending = r.readFrom();
  r.close();
  await assertRejects(() => pending, ClosedError);
  await assertRejects(() => r.writeTo(new Uint8Array(1), remote), ClosedError);
  await r.done;
  await c1.closed;
  assertEquals(d.carriers.length, 1);
  d.server.close();
});
