import { assert, assertEquals, assertNotEquals } from "./assert.ts";
import { mulberry32, randomBytes, randomInt, seededBytes, xorshift32 } from "./fuzz.ts";

Deno.test("fuzz: generators replay from their seed and stay in [0, 1)", () => {
  for (const gen of [xorshift32, mulberry32]) {
    const a = gen(42), b = gen(42), c = gen(43);
    const xs = Array.from({ length: 1000 }, () => a());
    assertEquals(xs, Array.from({ length: 1000 }, () => b()));
    assertNotEquals(xs, Array.from({ length: 1000 }, () => c()));
    assert(xs.every((x) => x >= 0 && x < 1), "a value outside [0, 1)");
  }
  const r = xorshift32(0);
  for (let i = 0; i < 1000; i++) {
    const n = randomInt(r, 7);
    assert(Number.isInteger(n) && n >= 0 && n < 7, `randomInt gave ${n}`);
  }
  assertEquals(randomBytes(r, 5).length, 5);
});

Deno.test("fuzz: seededBytes fills every byte, tail included, the same way each time", () => {
  const a = seededBytes(4099, 7);
  assertEquals(a, seededBytes(4099, 7));
  assertNotEquals(a, seededBytes(4099, 8));
  assert(a.subarray(4096).some((b) => b !== 0), "tail bytes left zero");
  assertEquals(a.subarray(0, 4096), seededBytes(4096, 7));
});
