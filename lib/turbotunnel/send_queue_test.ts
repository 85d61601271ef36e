import { assert, assertEquals } from "../testing/assert.ts";
import { CLIENT_MAP_TIMEOUT_MS, SendQueue, SendQueues } from "./send_queue.ts";

const limits = { packets: 8, bytes: 100, idleBytes: 10, timeoutMs: 1000 };

Deno.test("turbotunnel: send queue merges contiguous views; others are packed together", () => {
  const q = new SendQueue(0);
  q.attach(0);
  const slab = new Uint8Array(100).map((_, i) => i);
  q.push(slab.subarray(0, 10), 1, 0);
  q.push(slab.subarray(10, 30), 2, 0);
  q.push(slab.subarray(50, 60), 1, 0);
  const all = q.take(1000)!;
  assertEquals(all.packets, 4);
  assertEquals([...all.data], [...slab.subarray(0, 30), ...slab.subarray(50, 60)]);
  assertEquals(q.take(1000), undefined);
  q.push(slab.subarray(0, 10), 1, 0);
  q.push(slab.subarray(50, 60), 1, 0);
  const first = q.take(15)!;
  assert(first.data.buffer === slab.buffer, "a lone chunk is sent without a copy");
  assertEquals(q.take(15)!.data.length, 10);
});

Deno.test("turbotunnel: send queue is bounded in packets and bytes, and counts drops", () => {
  const q = new SendQueue(0, limits);
  q.attach(0);
  for (let i = 0; i < 8; i++) assert(q.push(new Uint8Array(1), 1, 0));
  assert(!q.push(new Uint8Array(1), 1, 0), "packet limit");
  q.take(1000);
  assert(q.push(new Uint8Array(60), 1, 0));
  assert(!q.push(new Uint8Array(60), 1, 0), "byte limit");
  assertEquals(q.drops, 2);
});

Deno.test("turbotunnel: without a carrier the queue keeps only the newest idleBytes, copied", () => {
  const q = new SendQueue(0, limits);
  q.attach(0);
  const slab = new Uint8Array(40);
  for (let i = 0; i < 4; i++) q.push(slab.subarray(i * 10 + 1, i * 10 + 5), 1, 0);
  assertEquals(q.detach(1), 0);
  assertEquals([q.packets, q.bytes], [2, 8]);
  const b = q.take(1000)!;
  assert(b.data.buffer !== slab.buffer, "no longer pins the slab");
  assert(q.push(new Uint8Array(10), 1, 2));
  assert(!q.push(new Uint8Array(1), 1, 2), "idle byte limit");
});

Deno.test("turbotunnel: carriers draining one queue take turns, oldest waiter first", async () => {
  const q = new SendQueue(0);
  q.attach(0);
  q.attach(0);
  const got: string[] = [];
  const ac = new AbortController();
  const drain = async (name: string) => {
    try {
      for (;;) {
        await q.next(1, ac.signal);
        got.push(name);
        await new Promise((r) => setTimeout(r, 0));
      }
    } catch { /* aborted */ }
  };
  const a = drain("a");
  const b = drain("b");
  for (let i = 0; i < 6; i++) {
    q.push(new Uint8Array(1), 1, 0);
    q.push(new Uint8Array(1).fill(1), 1, 0);
    await new Promise((r) => setTimeout(r, 5));
  }
  ac.abort();
  await Promise.all([a, b]);
  assertEquals(got.length, 12);
  const na = got.filter((x) => x === "a").length;
  assert(na >= 4 && na <= 8, `fair share: ${got.join("")}`);
  assertEquals(q.waiting, 0, "aborted carriers are forgotten");
});

Deno.test("turbotunnel: close rejects waiting carriers", async () => {
  const q = new SendQueue(0);
  const waiting = q.next(100).then(() => false, () => true);
  q.close();
  assert(await waiting);
});

Deno.test("turbotunnel: queues without a carrier expire on the injected clock; paths go up and down", () => {
  let now = 0;
  const expired: string[] = [];
  const paths: string[] = [];
  const queues = new SendQueues({
    now: () => now,
    autoSweep: false,
    onExpire: (k) => expired.push(k),
    onPath: (k, up) => paths.push(`${k}${up ? "+" : "-"}`),
  });
  queues.push("a", new Uint8Array(2), 1);
  const b1 = queues.attach("b");
  const b2 = queues.attach("b");
  now = CLIENT_MAP_TIMEOUT_MS;
  queues.sweep();
  assertEquals(expired, ["a"]);
  queues.release("b", b1);
  queues.release("b", b2);
  assertEquals(paths, ["b+", "b-"], "only 0→1 and 1→0 are path changes");
  now += CLIENT_MAP_TIMEOUT_MS - 1;
  assertEquals(queues.sweep(), []);
  now += 1;
  assertEquals(queues.sweep(), ["b"]);
  queues.close();
});

Deno.test("turbotunnel: a burst is shared among the carriers waiting for it", async () => {
  const q = new SendQueue(0);
  q.attach(0);
  q.attach(0);
  q.attach(0);
  const waiting = [q.next(64 * 1024), q.next(64 * 1024), q.next(64 * 1024)];
  const slab = new Uint8Array(30 * 1400);
  for (let i = 0; i < 30; i++) q.push(slab.subarray(i * 1400, (i + 1) * 1400), 1, 0);
  const batches = await Promise.all(waiting);
  assertEquals(batches.map((b) => b.packets), [10, 10, 10]);
  assertEquals(q.packets, 0);
});
