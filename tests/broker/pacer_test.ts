// NextPoll pacing (proxy/broker/pacer.ts) with an injected clock.
import { assertEquals } from "../../lib/testing/assert.ts";
import { PollPacer } from "../../proxy/broker/pacer.ts";

Deno.test("broker: NextPoll grows with the surplus of waiting proxies over client demand", () => {
  let now = 1_000_000;
  const pacer = new PollPacer({ baseMs: 5_000, maxMs: 60_000, now: () => now });
  // No clients: one waiting proxy polls at the base interval, many are spread up to the cap.
  assertEquals(pacer.nextPoll(1), 5_000);
  assertEquals(pacer.nextPoll(4), 20_000);
  assertEquals(pacer.nextPoll(1_000), 60_000);
  // 100 client polls in the last minute: 200 waiting proxies → twice the base.
  for (let i = 0; i < 100; i++) {
    now += 500;
    pacer.clientPoll();
  }
  assertEquals(pacer.clientPollsPerMinute(), 100);
  assertEquals(pacer.nextPoll(200), 10_000);
  // Clients outnumber proxies: never below the base.
  assertEquals(pacer.nextPoll(10), 5_000);
  // A minute later the demand has aged out.
  now += 61_000;
  assertEquals(pacer.clientPollsPerMinute(), 0);
  assertEquals(pacer.nextPoll(200), 60_000);
});
