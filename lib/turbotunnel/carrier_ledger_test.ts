import { encodePacket } from "../encapsulation/mod.ts";
import { CMD_ACK, CMD_PUSH, encodeSegment } from "../kcp/segment.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { CarrierLedger } from "./carrier_ledger.ts";
import { SendQueue } from "./send_queue.ts";

const seg = (cmd: number, sn: number, una: number, len = 0) =>
  encodeSegment({ conv: 1, cmd, frg: 0, wnd: 128, ts: 0, sn, una, data: new Uint8Array(len) });
/** One encapsulated KCP packet of data segments `sns` (as a carrier's batch holds it). */
const batch = (...sns: number[]) =>
  encodePacket(new Uint8Array(sns.flatMap((sn) => [...seg(CMD_PUSH, sn, 0, 100)])));
const ack = (sn: number, una: number) => seg(CMD_ACK, sn, una);

Deno.test("turbotunnel: a carrier whose data stays unacknowledged behind later data acknowledged elsewhere is stuck", () => {
  const l = new CarrierLedger();
  const [a, b] = [{}, {}];
  l.took(a, batch(0, 1), 0);
  l.took(b, batch(2, 3), 10);
  l.acknowledged(ack(2, 0), 50);
  assert(!l.stuck(a, 400), "not before 0.5 s");
  assert(l.stuck(a, 600), "0 and 1 lost with a, 2 acknowledged through b");
  assert(!l.stuck(b, 600));
  assert(l.stuck(a, 1000), "stays stuck");
  assert(!l.stuck(a, 2700), "a probe batch every 2 s");
  assert(l.stuck(a, 2710));
  l.took(a, batch(4), 2700);
  l.acknowledged(ack(4, 0), 2800);
  assert(!l.stuck(a, 2810), "the client acknowledged what it carried: served again");
});

Deno.test("turbotunnel: a slow carrier, a lone one and everything late together are not stuck", () => {
  const l = new CarrierLedger();
  const [a, b] = [{}, {}];
  l.took(a, batch(0), 0);
  assert(!l.stuck(a, 5000), "alone");
  l.took(b, batch(1), 0);
  assert(!l.stuck(a, 5000), "nothing acknowledged anywhere: the client or the machine is slow");
  l.acknowledged(ack(1, 0), 5000);
  l.acknowledged(ack(0, 2), 5001);
  assert(!l.stuck(a, 5002), "a's data was acknowledged (una covers it)");
});

Deno.test("turbotunnel: the send queue passes over a stuck carrier and serves it once acknowledged", async () => {
  const q = new SendQueue(0);
  q.attach(0);
  q.attach(0);
  const [a, b] = [{}, {}];
  // Both wait; a takes a batch, b a later one; only b's is acknowledged.
  const first = q.next(64 * 1024, undefined, a);
  const second = q.next(64 * 1024, undefined, b);
  q.push(batch(0), 1, 0);
  await first;
  await new Promise((r) => setTimeout(r, 20));
  q.push(batch(1), 1, 0);
  await second;
  q.acknowledged(ack(1, 0));
  await new Promise((r) => setTimeout(r, 600));
  let aGot = false;
  void q.next(64 * 1024, undefined, a).then(() => (aGot = true));
  q.push(batch(2), 1, 0);
  await new Promise((r) => setTimeout(r, 10));
  assert(!aGot, "a is stuck");
  assertEquals((await q.next(64 * 1024, undefined, b)).packets, 1);
  q.acknowledged(ack(0, 0));
  q.push(batch(3), 1, 0);
  await new Promise((r) => setTimeout(r, 10));
  assert(aGot, "acknowledged, a is served again");
  q.forget(a);
  q.forget(b);
});
