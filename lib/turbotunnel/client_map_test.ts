import { ClosedError, NamedAddr } from "../net/mod.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { ClientMap } from "./client_map.ts";

Deno.test("turbotunnel: ClientMap expires entries idle for a minute (fake clock)", async () => {
  let now = 1_000_000;
  const m = new ClientMap({ now: () => now, autoSweep: false });
  const a = new NamedAddr("clientid", "a");
  const b = new NamedAddr("clientid", "b");
  const qa = m.sendQueue(a);
  m.sendQueue(b);
  assert(m.sendQueue(a) === qa, "same queue while alive");
  now += 40_000;
  m.sendQueue(b); // b used at t+40s
  now += 20_000; // a idle 60s, b idle 20s
  const waiting = qa.shift();
  assertEquals(m.sweep(), 1);
  assert(!m.has(a) && m.has(b));
  await assertRejects(() => waiting, ClosedError, "expired");
  assert(m.sendQueue(a) !== qa, "a fresh queue after expiry");
  now += 59_999;
  assertEquals(m.sweep(), 1); // b expired, a (recreated) not yet
  assertEquals(m.size, 1);
  m.close();
  assertEquals(m.size, 0);
});

Deno.test("turbotunnel: ClientMap's sweep timer runs and is stopped on close", async () => {
  let now = 0;
  const m = new ClientMap({ now: () => now, timeoutMs: 20 });
  m.sendQueue(new NamedAddr("clientid", "a"));
  now = 100;
  await new Promise((r) => setTimeout(r, 40));
  assertEquals(m.size, 0);
  m.close(); // the test sanitizer fails if the interval leaks
});
