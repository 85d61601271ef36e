import { assertEquals, assertRejects } from "../testing/assert.ts";
import { ClosedError } from "./errors.ts";
import { UdpPacketConn } from "./udp.ts";

Deno.test("udp: packets round-trip over loopback with the sender's address", async () => {
  const a = UdpPacketConn.listen();
  const b = UdpPacketConn.listen();
  try {
    await a.writeTo(new Uint8Array([1, 2, 3]), b.localAddr);
    const p = await b.readFrom();
    assertEquals([...p.data], [1, 2, 3]);
    assertEquals(p.addr.toString(), a.localAddr.toString());
    const ac = new AbortController();
    const pending = b.readFrom(ac.signal);
    ac.abort(new Error("stop"));
    await assertRejects(() => pending, Error, "stop");
    await a.writeTo(new Uint8Array([4]), b.localAddr);
    assertEquals([...(await b.readFrom()).data], [4]);
  } finally {
    a.close();
    b.close();
  }
  await assertRejects(() => b.readFrom(), ClosedError);
});
