import { assertEquals, assertRejects } from "../testing/assert.ts";
import { connLink, linkConn } from "./chunk_link.ts";
import { memoryConnPair } from "./memory.ts";
import { NamedAddr } from "./addr.ts";

Deno.test("net: a ChunkLink over a Conn moves chunks both ways; close ends a pending read", async () => {
  const [a, b] = memoryConnPair();
  const la = connLink(a);
  const lb = connLink(b);
  const w1 = la.write(new Uint8Array([1, 2, 3]));
  assertEquals(await lb.read(), new Uint8Array([1, 2, 3]));
  await w1;
  const w2 = lb.write(new Uint8Array([4]));
  assertEquals(await la.read(), new Uint8Array([4]));
  await w2;
  const pending = la.read();
  la.close();
  await assertRejects(() => pending);
  lb.close();
});

Deno.test("net: a Conn over a ChunkLink moves chunks both ways and ends with the link", async () => {
  const [a, b] = memoryConnPair();
  const local = new NamedAddr("memory", "x");
  const conn = linkConn(connLink(a), local, local);
  const peer = connLink(b);
  const w = conn.writable.getWriter();
  const w1 = w.write(new Uint8Array([7, 8]));
  assertEquals(await peer.read(), new Uint8Array([7, 8]));
  await w1;
  const w2 = peer.write(new Uint8Array([9]));
  const r = conn.readable.getReader();
  assertEquals((await r.read()).value, new Uint8Array([9]));
  await w2;
  peer.close();
  await assertRejects(() => r.read());
  conn.close();
});
