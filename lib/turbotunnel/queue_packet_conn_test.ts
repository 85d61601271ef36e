import { ClosedError, NamedAddr } from "../net/mod.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { QueuePacketConn } from "./queue_packet_conn.ts";

const local = new NamedAddr("turbotunnel", "server");
const a = new NamedAddr("clientid", "a");
const b = new NamedAddr("clientid", "b");

Deno.test("turbotunnel: QueuePacketConn drops when the queue is full and counts it", async () => {
  const q = new QueuePacketConn(local, { autoSweep: false });
  for (let i = 0; i < 512; i++) assert(q.queueIncoming(new Uint8Array([i & 0xff]), a));
  assert(!q.queueIncoming(new Uint8Array([0]), a));
  assertEquals(q.incomingDrops, 1);
  for (let i = 0; i < 600; i++) await q.writeTo(new Uint8Array([i & 0xff]), b);
  assertEquals(q.outgoingDrops, 88);
  assertEquals(q.outgoing(b).length, 512);
  assertEquals(q.outgoing(a).length, 0, "one send queue per client");
  const first = await q.readFrom();
  assertEquals(first.data, new Uint8Array([0]));
  assertEquals(first.addr, a);
  q.close();
});

Deno.test("turbotunnel: QueuePacketConn copies what KCP writes and routes by address", async () => {
  const q = new QueuePacketConn(local, { autoSweep: false });
  const buf = new Uint8Array([1, 2, 3]);
  await q.writeTo(buf, a);
  buf.fill(9);
  await q.writeTo(new Uint8Array([4]), b);
  assertEquals(await q.nextOutgoing(a), new Uint8Array([1, 2, 3]));
  assertEquals(await q.nextOutgoing(b), new Uint8Array([4]));
  const pending = q.nextOutgoing(a);
  q.close();
  await assertRejects(() => pending, ClosedError);
  await assertRejects(() => q.readFrom(), ClosedError);
  await assertRejects(() => q.writeTo(new Uint8Array(1), a), ClosedError);
  assert(!q.queueIncoming(new Uint8Array(1), a));
});

Deno.test("turbotunnel: nextOutgoing survives its client's queue expiring", async () => {
  let now = 0;
  const q = new QueuePacketConn(local, { now: () => now, timeoutMs: 10, autoSweep: true });
  const pending = q.nextOutgoing(a);
  now = 1000;
  await new Promise((r) => setTimeout(r, 30)); // the sweep closes a's queue
  await q.writeTo(new Uint8Array([5]), a);
  assertEquals(await pending, new Uint8Array([5]));
  q.close();
});
