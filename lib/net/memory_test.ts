import { assertEquals, assertRejects } from "../testing/assert.ts";
import { NamedAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import { MemoryListener, MemorySwitch } from "./memory.ts";

const addr = (name: string) => new NamedAddr("memory", name);

Deno.test("net: a memory switch routes by address between many endpoints, and roams", async () => {
  const sw = new MemorySwitch();
  const server = sw.bind(addr("server"));
  const clients = Array.from({ length: 5 }, (_, i) => sw.bind(addr(`c${i}`)));
  for (const c of clients) {
    await c.writeTo(new TextEncoder().encode(c.localAddr.toString()), server.localAddr);
  }
  for (let i = 0; i < 5; i++) {
    const p = await server.readFrom();
    assertEquals(new TextDecoder().decode(p.data), p.addr.toString());
    await server.writeTo(new Uint8Array([i]), p.addr);
  }
  for (let i = 0; i < 5; i++) {
    assertEquals((await clients[i]!.readFrom()).data, new Uint8Array([i]));
  }
  clients[0]!.rebind(addr("moved"));
  await clients[0]!.writeTo(new Uint8Array([9]), server.localAddr);
  assertEquals((await server.readFrom()).addr.toString(), "moved");
  await server.writeTo(new Uint8Array([1]), addr("c0")); // nobody there any more
  assertEquals(sw.dropped, 1);
  sw.tap = () => false;
  await server.writeTo(new Uint8Array([1]), addr("c1"));
  assertEquals(clients[1]!.inbox.length, 0, "the tap dropped it");
  server.close();
  await assertRejects(() => server.writeTo(new Uint8Array(1), addr("c1")), ClosedError);
});

Deno.test("net: the memory Listener twin hands the server end of each dial to its iterator", async () => {
  const l = new MemoryListener();
  const accepted: string[] = [];
  const serving = (async () => {
    for await (const conn of l) {
      const { value } = await conn.readable.getReader().read();
      accepted.push(new TextDecoder().decode(value));
    }
  })();
  for (const word of ["one", "two"]) {
    const c = await l.dial();
    await c.writable.getWriter().write(new TextEncoder().encode(word));
  }
  while (accepted.length < 2) await new Promise((r) => setTimeout(r, 1));
  l.close();
  await serving;
  assertEquals(accepted, ["one", "two"]);
  await assertRejects(() => l.dial(), ClosedError);
});
