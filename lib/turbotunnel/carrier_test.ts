import { encodePacket } from "../encapsulation/mod.ts";
import { memoryConnPair, NamedAddr } from "../net/mod.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { carrierStats, serveCarrier } from "./carrier.ts";
import { encodeCarrierHeader } from "./carrier_parser.ts";
import { ClientID } from "./client_id.ts";
import { QueuePacketConn } from "./queue_packet_conn.ts";

const local = new NamedAddr("turbotunnel", "server");

Deno.test("turbotunnel: serveCarrier moves packets between a Conn and a QueuePacketConn", async () => {
  const q = new QueuePacketConn(local, { autoSweep: false });
  const [c, s] = memoryConnPair();
  const id = ClientID.random();
  const stats = carrierStats();
  const serving = serveCarrier(s, (cid) => q.endpoint(cid), {}, stats);
  const w = c.writable.getWriter();
  await w.write(new Uint8Array([...encodeCarrierHeader(id), ...encodePacket(new Uint8Array([1]))]));
  const p = await q.readFrom();
  assertEquals(p.data, new Uint8Array([1]));
  assert(p.addr instanceof ClientID && p.addr.equals(id));
  // Like a KCP flush: written in one go, sent as one chunk.
  void q.writeTo(new Uint8Array([2]), id);
  void q.writeTo(new Uint8Array([3, 4]), id);
  const r = c.readable.getReader();
  const { value } = await r.read();
  assertEquals([...value!], [
    ...encodePacket(new Uint8Array([2])),
    ...encodePacket(new Uint8Array([3, 4])),
  ]);
  c.close(); // the proxy goes away: the carrier ends, the queue stays
  const end = await serving;
  assert(end.reason === "closed" || end.reason === "eof", end.reason);
  assertEquals([stats.packetsIn, stats.packetsOut], [1, 2]);
  await q.writeTo(new Uint8Array([5]), id);
  assertEquals(q.queues.get(id.hex).packets, 1);
  q.close();
});

Deno.test("turbotunnel: serveCarrier ends with the fault of a bad stream, and on abort", async () => {
  const q = new QueuePacketConn(local, { autoSweep: false });
  const [c, s] = memoryConnPair();
  const serving = serveCarrier(s, (cid) => q.endpoint(cid), { maxLength: 100 });
  const w = c.writable.getWriter();
  await w.write(encodeCarrierHeader(ClientID.random()));
  await w.write(new Uint8Array([0xc1, 0x00])); // declares 128 bytes > 100
  assertEquals((await serving).reason, "oversize");
  const [c2, s2] = memoryConnPair();
  const ac = new AbortController();
  const idle = serveCarrier(s2, (cid) => q.endpoint(cid), { signal: ac.signal });
  ac.abort(new Error("handshake timeout"));
  const end = await idle;
  assertEquals(end.reason, "aborted");
  assertEquals((end.error as Error).message, "handshake timeout");
  c.close();
  c2.close();
  q.close();
});

Deno.test("turbotunnel: two carriers of one ClientID share its queue and both deliver", async () => {
  const q = new QueuePacketConn(local, { autoSweep: false });
  const id = ClientID.random();
  const pairs = [memoryConnPair(), memoryConnPair()];
  const serving = pairs.map(([, s]) => serveCarrier(s, (cid) => q.endpoint(cid)));
  for (const [c] of pairs) {
    await c.writable.getWriter().write(
      new Uint8Array([...encodeCarrierHeader(id), ...encodePacket(new Uint8Array([7]))]),
    );
  }
  assertEquals((await q.readFrom()).addr.toString(), id.hex);
  assertEquals((await q.readFrom()).addr.toString(), id.hex);
  assertEquals(q.queues.get(id.hex).carriers, 2);
  for (const [c] of pairs) c.close();
  await Promise.all(serving);
  assertEquals(q.queues.get(id.hex).carriers, 0);
  q.close();
});
