import { ClosedError, memoryConnPair, NamedAddr } from "../net/mod.ts";
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { encodePacket, encodePadding } from "./codec.ts";
import { EncapsulatedPacketConn } from "./packet_conn.ts";

const peer = new NamedAddr("memory", "peer");

Deno.test("codec: EncapsulatedPacketConn carries packets both ways over a Conn", async () => {
  const [a, b] = memoryConnPair();
  const pa = new EncapsulatedPacketConn(a, peer);
  const pb = new EncapsulatedPacketConn(b, peer);
  const sent = Array.from({ length: 300 }, (_, i) => new Uint8Array(i * 5).fill(i & 0xff));
  for (const p of sent) await pa.writeTo(p, peer);
  for (const p of sent) {
    const got = await pb.readFrom();
    assertEquals(got.data, p);
    assertEquals(got.addr, peer);
  }
  await pb.writeTo(new Uint8Array([7]), peer);
  assertEquals((await pa.readFrom()).data, new Uint8Array([7]));
  pa.close();
  await assertRejects(() => pb.readFrom(), ClosedError);
  await assertRejects(() => pa.readFrom(), ClosedError);
  pb.close();
});

Deno.test("codec: EncapsulatedPacketConn reads the initial bytes first and skips padding", async () => {
  const [a, b] = memoryConnPair();
  const pb = new EncapsulatedPacketConn(b, peer, {
    initial: new Uint8Array([...encodePadding(5), ...encodePacket(new Uint8Array([1]))]),
  });
  const w = a.writable.getWriter();
  await w.write(new Uint8Array([...encodePacket(new Uint8Array([2, 2])), 0x83, 3]));
  await w.write(new Uint8Array([3, 3]));
  assertEquals((await pb.readFrom()).data, new Uint8Array([1]));
  assertEquals((await pb.readFrom()).data, new Uint8Array([2, 2]));
  assertEquals((await pb.readFrom()).data, new Uint8Array([3, 3, 3]));
  await w.close();
  await assertRejects(() => pb.readFrom(), ClosedError);
  pb.close();
});

Deno.test("codec: a malformed stream rejects reads with SyntaxError and closes the conn", async () => {
  const [a, b] = memoryConnPair();
  const pb = new EncapsulatedPacketConn(b, peer);
  const w = a.writable.getWriter();
  await w.write(new Uint8Array([0x81, 9, 0xc0, 0x80, 0x80]));
  assertEquals((await pb.readFrom()).data, new Uint8Array([9]));
  await assertRejects(() => pb.readFrom(), SyntaxError, "longer than 3 bytes");
  await b.closed;
  await assertRejects(() => pb.writeTo(new Uint8Array(1), peer), ClosedError);
  a.close();
});

Deno.test("codec: EOF in the middle of a chunk rejects reads with unexpected EOF", async () => {
  const [a, b] = memoryConnPair();
  const pb = new EncapsulatedPacketConn(b, peer);
  const w = a.writable.getWriter();
  await w.write(new Uint8Array([0x85, 1, 2]));
  await w.close();
  await assertRejects(() => pb.readFrom(), SyntaxError, "unexpected EOF");
  pb.close();
});

Deno.test("codec: readFrom honours an AbortSignal", async () => {
  const [a, b] = memoryConnPair();
  const pb = new EncapsulatedPacketConn(b, peer);
  const ac = new AbortController();
  const p = pb.readFrom(ac.signal);
  ac.abort(new Error("stop"));
  await assertRejects(() => p, Error, "stop");
  pb.close();
  a.close();
});
