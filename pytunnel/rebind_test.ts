import { assertEquals, assertNotEquals } from "../lib/testing/assert.ts";
import { UdpPacketConn } from "../lib/net/udp.ts";
import { RebindablePacketConn } from "./rebind.ts";
import type { HostPortAddr } from "../lib/net/addr.ts";

Deno.test("tunnel:roam: a rebind moves a pending read to the new socket and a new port", async () => {
  const peer = UdpPacketConn.listen("127.0.0.1", 0);
  const conn = new RebindablePacketConn(() => UdpPacketConn.listen("127.0.0.1", 0));
  try {
    const before = (conn.localAddr as HostPortAddr).port;
    const pending = conn.readFrom();
    const after = (conn.rebind() as HostPortAddr).port;
    assertNotEquals(before, after);
    await conn.writeTo(new Uint8Array([1, 2]), peer.localAddr);
    const got = await peer.readFrom();
    assertEquals((got.addr as HostPortAddr).port, after);
    await peer.writeTo(new Uint8Array([3]), got.addr);
    assertEquals((await pending).data, new Uint8Array([3]));
  } finally {
    conn.close();
    peer.close();
  }
});
