import { assert, assertEquals } from "../lib/testing/assert.ts";
import { encodePacket } from "../lib/encapsulation/mod.ts";
import { NamedAddr } from "../lib/net/mod.ts";
import {
  ATTACHED_PACKETS,
  DETACHED_PACKETS,
  Outbox,
  OUTBOX_TIMEOUT_MS,
  Outboxes,
  OutboxPacketConn,
  writeDataPrefix,
} from "./outbox.ts";

Deno.test("codec: writeDataPrefix matches encodePacket at every prefix size", () => {
  for (const n of [0, 1, 63, 64, 8191, 8192, 65535]) {
    const want = encodePacket(new Uint8Array(n));
    const out = new Uint8Array(n + 3);
    const p = writeDataPrefix(out, 0, n);
    assertEquals(out.subarray(0, p), want.subarray(0, want.length - n));
  }
});

Deno.test("outbox: contiguous views merge into one message; others are packed together", () => {
  const box = new Outbox(0);
  box.attach(0);
  const slab = new Uint8Array(100).map((_, i) => i);
  box.push(slab.subarray(0, 10), 1, 0);
  box.push(slab.subarray(10, 30), 2, 0);
  box.push(slab.subarray(50, 60), 1, 0);
  const all = box.take(1000)!;
  assertEquals(all.packets, 4);
  assertEquals([...all.data], [...slab.subarray(0, 30), ...slab.subarray(50, 60)]);
  assertEquals(box.take(1000), undefined);
  box.push(slab.subarray(0, 10), 1, 0);
  box.push(slab.subarray(50, 60), 1, 0);
  const first = box.take(15)!;
  assert(first.data.buffer === slab.buffer, "a lone chunk is sent without a copy");
  assertEquals(box.take(15)!.data.length, 10);
});

Deno.test("outbox: bounded while attached; detaching copies out of shared memory and cuts", () => {
  const box = new Outbox(0);
  box.attach(0);
  const slab = new Uint8Array(ATTACHED_PACKETS * 2);
  for (let i = 0; i < ATTACHED_PACKETS; i++) {
    // Not contiguous (every other byte), so each stays its own chunk.
    assert(box.push(slab.subarray(2 * i, 2 * i + 1), 1, 0));
  }
  assert(!box.push(slab.subarray(0, 1), 1, 0), "full");
  assertEquals(box.drops, 1);
  box.detach(1);
  assertEquals(box.packets, DETACHED_PACKETS);
  const m = box.take(1 << 20)!;
  assert(m.data.buffer !== slab.buffer, "detached packets no longer pin the slab");
  for (let i = 0; i < DETACHED_PACKETS; i++) box.push(slab.subarray(0, 1), 1, 2);
  assert(!box.push(slab.subarray(0, 1), 1, 2), "detached limit");
});

Deno.test("outbox: a waiting writer wakes on push; close rejects it", async () => {
  const box = new Outbox(0);
  const waiting = box.ready();
  box.push(new Uint8Array(3), 1, 0);
  await waiting;
  box.take(100);
  const rejected = box.ready().then(() => false, () => true);
  box.close();
  assert(await rejected);
});

Deno.test("outbox: an aborted writer is forgotten (it would pin its connection)", async () => {
  const box = new Outbox(0);
  const ac = new AbortController();
  const waiting = box.ready(ac.signal).then(() => "resolved", () => "rejected");
  assertEquals(box.waiting, 1);
  ac.abort();
  assertEquals(await waiting, "rejected");
  assertEquals(box.waiting, 0);
});

Deno.test("outbox: outboxes without a connection expire; attached ones stay", () => {
  let now = 0;
  const expired: string[] = [];
  const boxes = new Outboxes({ now: () => now, onExpire: (k) => expired.push(k) });
  try {
    boxes.push("a", new Uint8Array(2), 1);
    const b = boxes.attach("b");
    now = OUTBOX_TIMEOUT_MS;
    boxes.sweep();
    assertEquals(expired, ["a"]);
    assertEquals(boxes.size, 1);
    boxes.release("b", b);
    now += OUTBOX_TIMEOUT_MS;
    boxes.sweep();
    assertEquals(expired, ["a", "b"]);
  } finally {
    boxes.close();
  }
});

Deno.test("outbox: OutboxPacketConn encapsulates KCP packets into the client's outbox", async () => {
  const conn = new OutboxPacketConn(new NamedAddr("turbotunnel", "t"));
  try {
    const addr = new NamedAddr("clientid", "0102030405060708");
    const box = conn.outboxes.attach(addr.toString());
    await conn.writeTo(new Uint8Array([1, 2, 3]), addr);
    await conn.writeTo(new Uint8Array(100).fill(7), addr);
    const m = box.take(1 << 16)!;
    assertEquals(m.packets, 2);
    const want = [...encodePacket(new Uint8Array([1, 2, 3]))];
    want.push(...encodePacket(new Uint8Array(100).fill(7)));
    assertEquals([...m.data], want);
  } finally {
    conn.close();
  }
});
