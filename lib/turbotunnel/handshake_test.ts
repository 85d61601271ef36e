import { encodePacket } from "../encapsulation/mod.ts";
import { ClosedError, memoryConnPair } from "../net/mod.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { ClientID, TOKEN } from "./client_id.ts";
import { acceptTurbotunnel, openTurbotunnel, pumpTurbotunnel } from "./handshake.ts";
import { QueuePacketConn } from "./queue_packet_conn.ts";

Deno.test("turbotunnel: openTurbotunnel writes token + ClientID, acceptTurbotunnel reads them", async () => {
  const [c, s] = memoryConnPair();
  const id = ClientID.random();
  const accepted = acceptTurbotunnel(s);
  const client = await openTurbotunnel(c, id);
  await client.writeTo(new Uint8Array([1, 2, 3]), c.remoteAddr);
  const { id: got, packets } = await accepted;
  assert(got.equals(id));
  const p = await packets.readFrom();
  assertEquals(p.data, new Uint8Array([1, 2, 3]));
  assertEquals(p.addr, got);
  await packets.writeTo(new Uint8Array([4]), got);
  assertEquals((await client.readFrom()).data, new Uint8Array([4]));
  client.close();
  packets.close();
});

Deno.test("turbotunnel: the exact bytes on the wire, split across writes", async () => {
  const [c, s] = memoryConnPair();
  const accepted = acceptTurbotunnel(s);
  const w = c.writable.getWriter();
  const wire = new Uint8Array([
    ...TOKEN,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    ...encodePacket(new Uint8Array([9])),
  ]);
  for (const b of wire) await w.write(new Uint8Array([b]));
  const { id: got, packets } = await accepted;
  assertEquals(got.hex, "0102030405060708");
  assertEquals((await packets.readFrom()).data, new Uint8Array([9]));
  packets.close();
});

Deno.test("turbotunnel: a wrong token is a SyntaxError as soon as it arrives", async () => {
  const [c, s] = memoryConnPair();
  const accepted = acceptTurbotunnel(s);
  const w = c.writable.getWriter();
  await w.write(new Uint8Array([0x12, 0x93, 0x61]));
  await assertRejects(() => accepted, SyntaxError, "token byte 2: 0x61");
  s.close();
  c.close();
});

Deno.test("turbotunnel: EOF inside the header is SyntaxError unexpected EOF", async () => {
  const [c, s] = memoryConnPair();
  const accepted = acceptTurbotunnel(s);
  const w = c.writable.getWriter();
  await w.write(TOKEN);
  await w.close();
  await assertRejects(() => accepted, SyntaxError, "unexpected EOF");
  s.close();
});

Deno.test("turbotunnel: acceptTurbotunnel gives up when its signal aborts", async () => {
  const [c, s] = memoryConnPair();
  const ac = new AbortController();
  const accepted = acceptTurbotunnel(s, ac.signal);
  ac.abort(new Error("handshake timeout"));
  await assertRejects(() => accepted, Error, "handshake timeout");
  s.close();
  c.close();
});

Deno.test("turbotunnel: pumpTurbotunnel moves packets between a conn and a QueuePacketConn", async () => {
  const [c, s] = memoryConnPair();
  const id = ClientID.random();
  const q = new QueuePacketConn(id, { autoSweep: false });
  const client = await openTurbotunnel(c, id);
  const { packets } = await acceptTurbotunnel(s);
  const pumping = pumpTurbotunnel(packets, id, q);
  await client.writeTo(new Uint8Array([1]), c.remoteAddr);
  const p = await q.readFrom();
  assertEquals(p.data, new Uint8Array([1]));
  assert(p.addr instanceof ClientID && p.addr.equals(id));
  await q.writeTo(new Uint8Array([2]), id);
  assertEquals((await client.readFrom()).data, new Uint8Array([2]));
  client.close(); // the proxy goes away: the pump ends, the queues stay
  await pumping;
  await q.writeTo(new Uint8Array([3]), id);
  assertEquals(q.outgoing(id).length, 1);
  q.close();
  await assertRejects(() => client.readFrom(), ClosedError);
});
