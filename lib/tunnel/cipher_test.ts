import { assert, assertEquals } from "../testing/assert.ts";
import { loadTunnelCipher, type TunnelCipher } from "./cipher.ts";

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function all(): Promise<TunnelCipher[]> {
  return [
    await loadTunnelCipher("ffi"),
    await loadTunnelCipher("wasm"),
    await loadTunnelCipher("noble"),
  ];
}

Deno.test("codec: every cipher gives the same secretbox bytes and opens the others' boxes", async () => {
  const ciphers = await all();
  const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
  const nonce = new Uint8Array(24).map((_, i) => 255 - i);
  for (const len of [0, 1, 15, 16, 17, 63, 64, 65, 1400, 4096]) {
    const plain = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
    const boxes = ciphers.map((c) => {
      const out = new Uint8Array(len + 16);
      c.seal(out, plain, nonce, key);
      return out;
    });
    for (const b of boxes) assertEquals(hex(b), hex(boxes[0]!), `len ${len}`);
    for (const c of ciphers) {
      const out = new Uint8Array(len);
      assert(c.open(out, boxes[0]!, nonce, key), `${c.name} opens len ${len}`);
      assertEquals(hex(out), hex(plain));
    }
  }
});

Deno.test("codec: every cipher refuses a tampered box, a wrong key and a short box", async () => {
  const key = new Uint8Array(32).fill(9);
  const nonce = new Uint8Array(24).fill(3);
  for (const c of await all()) {
    const plain = new Uint8Array(100).fill(0x41);
    const box = new Uint8Array(116);
    c.seal(box, plain, nonce, key);
    const out = new Uint8Array(100);
    for (const i of [0, 15, 16, 115]) {
      const t = box.slice();
      t[i]! ^= 1;
      assert(!c.open(out, t, nonce, key), `${c.name} tampered byte ${i}`);
    }
    assert(!c.open(out, box, nonce, new Uint8Array(32).fill(8)), `${c.name} wrong key`);
    assert(!c.open(new Uint8Array(0), box.subarray(0, 15), nonce, key), `${c.name} short`);
  }
});

// The secretbox vector of the NaCl distribution (tests/secretbox.c): key "firstkey", nonce
// "nonce", a 131-byte message; the box is the 16-byte tag followed by the ciphertext.
const H = (s: string) => Uint8Array.from(s.match(/../g)!, (x) => parseInt(x, 16));
const NACL_KEY = "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389";
const NACL_NONCE = "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37";
const NACL_M =
  "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728" +
  "d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a83" +
  "8f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705";
const NACL_C =
  "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c5" +
  "31a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab9321645" +
  "48e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f65" +
  "4cb45a74e355a5";

Deno.test("codec: every cipher reproduces the NaCl secretbox known answer", async () => {
  for (const c of await all()) {
    const m = H(NACL_M);
    const out = new Uint8Array(m.length + 16);
    c.seal(out, m, H(NACL_NONCE), H(NACL_KEY));
    assertEquals(hex(out), NACL_C, c.name);
    const back = new Uint8Array(m.length);
    assert(c.open(back, H(NACL_C), H(NACL_NONCE), H(NACL_KEY)), c.name);
    assertEquals(hex(back), NACL_M);
  }
});
