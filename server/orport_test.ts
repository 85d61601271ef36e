import { assert, assertEquals, assertThrows } from "../lib/testing/assert.ts";
import { memoryConnPair } from "../lib/net/mod.ts";
import { parseIPCIDR, pipeStream, randomIP } from "./orport.ts";

Deno.test("config: orport-srcaddr parses IPs and CIDRs and picks addresses inside", () => {
  assertEquals(randomIP(parseIPCIDR("127.0.0.2")), "127.0.0.2");
  assertEquals(randomIP(parseIPCIDR("10.1.2.3/8"), (b) => b.fill(0)), "10.0.0.0");
  assertEquals(randomIP(parseIPCIDR("10.1.2.3/8"), (b) => b.fill(255)), "10.255.255.255");
  assertEquals(randomIP(parseIPCIDR("2001:db8::/126"), (b) => b.fill(255)), "2001:db8:0:0:0:0:0:3");
  assertEquals(randomIP(parseIPCIDR("::ffff:1.2.3.4")), "0:0:0:0:0:ffff:102:304");
  for (let i = 0; i < 100; i++) {
    assert(randomIP(parseIPCIDR("127.0.2.0/24")).startsWith("127.0.2."));
  }
  for (const bad of ["", "1.2.3", "1.2.3.4/33", "::/129", "x/8", "1.2.3.4/"]) {
    assertThrows(() => parseIPCIDR(bad), SyntaxError);
  }
});

Deno.test("pt: pipeStream half-closes each direction and counts bytes", async () => {
  const [client, stream] = memoryConnPair();
  // A fake OrConn that echoes what it gets and ends after the write side closes.
  const chunks: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const or = {
    read: async (p: Uint8Array) => {
      while (chunks.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
      const c = chunks.shift();
      if (!c) return null;
      p.set(c);
      return c.length;
    },
    write: (p: Uint8Array) => {
      chunks.push(p.slice());
      wake?.();
      return Promise.resolve(p.length);
    },
    closeWrite: () => {
      ended = true;
      wake?.();
      return Promise.resolve();
    },
    close: () => {},
  };
  const piping = pipeStream(stream, or);
  const w = client.writable.getWriter();
  await w.write(new Uint8Array([1, 2, 3]));
  await w.close();
  const got: number[] = [];
  for await (const c of client.readable) got.push(...c);
  assertEquals(got, [1, 2, 3]);
  assertEquals(await piping, { up: 3, down: 3 });
});
