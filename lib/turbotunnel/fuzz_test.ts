import { encodePacket } from "../encapsulation/mod.ts";
import { assert } from "../testing/assert.ts";
import { xorshift32 } from "../testing/fuzz.ts";
import { CarrierError, CarrierParser } from "./carrier_parser.ts";
import { ClientID, TOKEN } from "./client_id.ts";

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

Deno.test("fuzz: 100,000 random and mutated streams into the carrier parser", () => {
  const rand = xorshift32(0xacce97);
  const outcomes = { accepted: 0, badToken: 0, badEncapsulation: 0, oversize: 0 };
  for (let i = 0; i < 100_000; i++) {
    const bytes = streamBytes(rand);
    const parser = new CarrierParser({ maxLength: 80 });
    let got = 0;
    try {
      for (let pos = 0; pos < bytes.length;) {
        const n = 1 + ((rand() * 40) | 0);
        parser.push(bytes.slice(pos, pos + n));
        pos += n;
        for (let p = parser.next(); p !== null; p = parser.next()) {
          assert(p.length <= 80, `stream ${i}: a packet over maxLength`);
          got += p.length;
        }
      }
      parser.end();
      assert(got <= bytes.length);
      outcomes.accepted++;
    } catch (e) {
      assert(e instanceof CarrierError, `stream ${i}: ${e}`);
      outcomes[e.fault]++;
    }
  }
  assert(
    Object.values(outcomes).every((n) => n > 100),
    `every outcome is exercised: ${JSON.stringify(outcomes)}`,
  );
});
