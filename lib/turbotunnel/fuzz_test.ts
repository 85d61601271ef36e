import { encodePacket } from "../encapsulation/mod.ts";
import { ClosedError, NamedAddr } from "../net/mod.ts";
import type { Conn } from "../net/mod.ts";
import { assert } from "../testing/assert.ts";
import { xorshift32 } from "../testing/fuzz.ts";
import { ClientID, TOKEN } from "./client_id.ts";
import { acceptTurbotunnel } from "./handshake.ts";

const addr = new NamedAddr("memory", "fuzz");

/** A Conn whose readable yields `bytes` in random pieces, then EOF. */
function scriptedConn(rand: () => number, bytes: Uint8Array): Conn {
  let pos = 0;
  return {
    readable: new ReadableStream<Uint8Array>({
      pull(c) {
        if (pos >= bytes.length) return c.close();
        const n = 1 + ((rand() * 40) | 0);
        c.enqueue(bytes.slice(pos, pos + n));
        pos += n;
      },
    }, { highWaterMark: 0 }),
    writable: new WritableStream<Uint8Array>(),
    localAddr: addr,
    remoteAddr: addr,
    close() {},
  };
}

function streamBytes(rand: () => number): Uint8Array {
  const parts: number[] = [...TOKEN, ...ClientID.random().bytes];
  const count = (rand() * 4) | 0;
  for (let i = 0; i < count; i++) {
    parts.push(...encodePacket(new Uint8Array((rand() * 90) | 0).map(() => rand() * 256)));
  }
  const out = new Uint8Array(parts);
  const kind = (rand() * 4) | 0;
  if (kind === 0) return out; // valid
  if (kind === 1) return new Uint8Array((rand() * 40) | 0).map(() => rand() * 256);
  const m = out.slice(0, kind === 2 ? (rand() * (out.length + 1)) | 0 : out.length);
  const flips = 1 + ((rand() * 2) | 0);
  for (let i = 0; i < flips && m.length > 0; i++) m[(rand() * m.length) | 0] = rand() * 256;
  return m;
}

Deno.test("fuzz: 100,000 random and mutated streams into acceptTurbotunnel", async () => {
  const rand = xorshift32(0xacce97);
  const outcomes = { accepted: 0, badHeader: 0, cleanEnd: 0, badStream: 0 };
  for (let i = 0; i < 100_000; i++) {
    const bytes = streamBytes(rand);
    const conn = scriptedConn(rand, bytes);
    let accepted;
    try {
      accepted = await acceptTurbotunnel(conn);
    } catch (e) {
      assert(e instanceof SyntaxError, `stream ${i}: ${e}`);
      outcomes.badHeader++;
      continue;
    }
    outcomes.accepted++;
    try {
      for (;;) assert((await accepted.packets.readFrom()).data.length <= bytes.length);
    } catch (e) {
      if (e instanceof ClosedError) outcomes.cleanEnd++;
      else if (e instanceof SyntaxError) outcomes.badStream++;
      else throw e;
    }
    accepted.packets.close();
  }
  assert(
    Object.values(outcomes).every((n) => n > 100),
    `every outcome is exercised: ${JSON.stringify(outcomes)}`,
  );
});
