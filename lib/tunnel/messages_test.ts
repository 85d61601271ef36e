import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { loadTunnelCipher } from "./cipher.ts";
import { TunnelManualClock } from "./clock.ts";
import { mac1Key, TunnelCookieChecker } from "./cookie.ts";
import { hkdf } from "./crypto.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
} from "./handshake.ts";
import { TunnelKeyPair } from "./keys.ts";
import * as m from "./messages.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fill = (n: number, v: number) => new Uint8Array(n).map((_, i) => (v + i) & 255);
const INIT_KAT =
  "0100000004030201101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f" +
  "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f" +
  "808182838485868788898a8b8c8d8e8f909192939495969798999a9ba0a1a2a3a4a5a6a7a8a9aaabacadaeaf";

function initFields(mac2: Uint8Array | null, sender = 0x01020304): m.TunnelInit {
  return {
    sender,
    ephemeral: fill(32, 0x10),
    staticBox: fill(48, 0x40),
    timestampBox: fill(28, 0x80),
    mac1: fill(16, 0xa0),
    mac2,
  };
}

Deno.test("codec: INIT known answer, 132 bytes, round trip", () => {
  const b = m.encodeInit(initFields(null));
  assertEquals(b.length, m.INIT_SIZE);
  assertEquals(hex(b), INIT_KAT);
  const d = m.decodeInit(b);
  assertEquals(d.sender, 0x01020304);
  assertEquals(hex(d.ephemeral), hex(fill(32, 0x10)));
  assertEquals(hex(d.staticBox), hex(fill(48, 0x40)));
  assertEquals(hex(d.timestampBox), hex(fill(28, 0x80)));
  assertEquals(hex(d.mac1), hex(fill(16, 0xa0)));
  assertEquals(d.mac2, null);
});

Deno.test("codec: INIT_WITH_COOKIE known answer, 148 bytes, round trip", () => {
  const b = m.encodeInit(initFields(fill(16, 0xc0), 0xfffffffe));
  assertEquals(b.length, m.INIT_WITH_COOKIE_SIZE);
  assertEquals(hex(b.subarray(0, 8)), "02000000feffffff");
  assertEquals(hex(b.subarray(8, 132)), INIT_KAT.slice(16));
  assertEquals(hex(b.subarray(132)), "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
  const d = m.decodeInit(b);
  assertEquals(d.sender, 0xfffffffe);
  assertEquals(hex(d.mac2!), hex(fill(16, 0xc0)));
});

Deno.test("codec: COOKIE_CHALLENGE known answer, 64 bytes, round trip", () => {
  const b = m.encodeCookieChallenge({ receiver: 7, nonce: fill(24, 1), cookieBox: fill(32, 0x30) });
  assertEquals(
    hex(b),
    "0300000007000000" + hex(fill(24, 1)) + hex(fill(32, 0x30)),
  );
  assertEquals(b.length, m.COOKIE_CHALLENGE_SIZE);
  const d = m.decodeCookieChallenge(b);
  assertEquals(d.receiver, 7);
  assertEquals(hex(d.nonce), hex(fill(24, 1)));
  assertEquals(hex(d.cookieBox), hex(fill(32, 0x30)));
});

Deno.test("codec: RESPONSE known answer, 76 bytes, round trip", () => {
  const f = {
    sender: 0xaabbccdd,
    receiver: 5,
    ephemeral: fill(32, 0x10),
    emptyBox: fill(16, 0x50),
    mac1: fill(16, 0x60),
  };
  const b = m.encodeResponse(f);
  assertEquals(
    hex(b),
    "04000000ddccbbaa05000000" + hex(fill(32, 0x10)) + hex(fill(16, 0x50)) + hex(fill(16, 0x60)),
  );
  assertEquals(b.length, m.RESPONSE_SIZE);
  const d = m.decodeResponse(b);
  assertEquals([d.sender, d.receiver], [0xaabbccdd, 5]);
  assertEquals(hex(d.mac1), hex(fill(16, 0x60)));
});

Deno.test("codec: DATA and KEEPALIVE known answers (u64 LE counter), round trip", () => {
  const b = m.encodeData({ receiver: 9, counter: 0x0102030405060, box: fill(20, 0) });
  assertEquals(hex(b), "05000000090000006050403020100000" + hex(fill(20, 0)));
  const d = m.decodeData(b);
  assertEquals([d.receiver, d.counter], [9, 0x0102030405060]);
  const k = m.encodeData({ receiver: 1, counter: 2 ** 53 - 1, box: new Uint8Array(16) });
  assertEquals(k.length, m.KEEPALIVE_SIZE);
  assertEquals(hex(k.subarray(8, 16)), "ffffffffffff1f00");
  assertEquals(m.decodeData(k).counter, 2 ** 53 - 1);
  const big = k.slice();
  big[14] = 0x20;
  assertEquals(m.decodeData(big).counter, Infinity);
});

Deno.test("codec: decoders refuse wrong types, sizes and reserved bytes with the right errors", () => {
  const init = m.encodeInit(initFields(null));
  assertThrows(() => m.decodeInit(init.subarray(0, 131)), RangeError);
  assertThrows(() => m.decodeInit(new Uint8Array([...init, 0])), RangeError);
  const r = init.slice();
  r[2] = 1;
  assertThrows(() => m.decodeInit(r), SyntaxError);
  assertThrows(() => m.decodeResponse(init), SyntaxError);
  assertThrows(() => m.decodeCookieChallenge(new Uint8Array(3)), SyntaxError);
  assertThrows(() => m.decodeData(new Uint8Array([5, 0, 0, 0])), RangeError);
  assertThrows(
    () => m.encodeInit({ ...initFields(null), ephemeral: new Uint8Array(31) }),
    RangeError,
  );
  assertThrows(() => m.encodeInit({ ...initFields(null), sender: 2 ** 32 }), RangeError);
  assertThrows(
    () => m.encodeData({ receiver: 0, counter: -1, box: new Uint8Array(16) }),
    RangeError,
  );
  assertEquals(m.messageType(new Uint8Array([5, 0, 0])), -1);
});

Deno.test("codec: HKDF-SHA256 matches RFC 5869 test case 3 (empty salt and info)", () => {
  const out = hkdf(new Uint8Array(0), new Uint8Array(22).fill(0x0b), 2);
  assertEquals(
    hex(new Uint8Array([...out[0]!, ...out[1]!])).slice(0, 84),
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
});

Deno.test("codec: mac1 key and cookie derivations match an independent WebCrypto computation", async () => {
  const spub = new TunnelKeyPair(fill(32, 0x21)).publicKey;
  const want = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new Uint8Array([...new TextEncoder().encode("mac1----"), ...spub]),
    ),
  );
  assertEquals(hex(mac1Key(spub)), hex(want));
  assertEquals(
    hex(mac1Key(spub)),
    "9173dc078712478fb7d01df462505e01cadb470021d9d4f3f82f6b3086cc2249",
  );
  const clock = new TunnelManualClock(1_700_000_000_000);
  const checker = new TunnelCookieChecker(spub, clock, 120_000, () => fill(32, 0x77));
  const cookie = checker.cookie("192.0.2.7:51820");
  const epoch = Math.floor(1_700_000_000_000 / 120_000);
  const input = new Uint8Array([
    ...new TextEncoder().encode("192.0.2.7:51820"),
    ...new Uint8Array(8),
  ]);
  new DataView(input.buffer).setBigUint64(input.length - 8, BigInt(epoch));
  const k = await crypto.subtle.importKey(
    "raw",
    fill(32, 0x77),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, input)).subarray(0, 16);
  assertEquals(hex(cookie), hex(mac));
  assertEquals(hex(cookie), "00afc3680fc2c83463d3eb3e49eed9a7");
});

Deno.test("codec: handshake known answer with fixed static and ephemeral keys", async () => {
  const c = await loadTunnelCipher("noble");
  const si = new TunnelKeyPair(fill(32, 0x01));
  const sr = new TunnelKeyPair(fill(32, 0x21));
  const init = createInitiation(
    c,
    si,
    sr.publicKey,
    0x11223344,
    1_700_000_000_123,
    null,
    new TunnelKeyPair(fill(32, 0x41)),
  );
  assertEquals(
    hex(init.message),
    "010000004433221164b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d48466e74b5a18c98caf" +
      "26859dbe6a0e7963d67cab78d520d46e54bf404eaf00580c8e6ee3005e906d4a13ae2b83877f8025d698c2e7ddd4" +
      "ce33b7318d488176690259b4f894d5e6f0378fae1df6daff8a25958709a40656220b4899cb850a",
  );
  const rec = consumeInitiation(c, sr, init.message, (p) => sr.dh(p));
  assert(typeof rec !== "string");
  assertEquals(hex(rec.peerPublic), hex(si.publicKey));
  const resp = createResponse(c, rec, 0x55667788, new TunnelKeyPair(fill(32, 0x61)))!;
  assertEquals(
    hex(resp.message),
    "040000008877665544332211244fe3b963e899dd295baffce248d3530f3a9a7479ba063002680ebfe7adad4976f5" +
      "105e39afdf7af9ea822fb84390caa5f499ff9fb8d79092941ec5604c932b",
  );
  const keys = consumeResponse(c, si, init, resp.message)!;
  assertEquals(
    hex(keys.sendKey),
    "ad3f4d590d38c1a2bc553c90c20dc2293b316c1774d313094a975978696be929",
  );
  assertEquals(
    hex(keys.recvKey),
    "f88cf8f51a7bfb75cc2619709964c8f121b111fe024716e1fb691d69a6848200",
  );
  assertEquals(hex(resp.keys.recvKey), hex(keys.sendKey));
  assertEquals(hex(resp.keys.sendKey), hex(keys.recvKey));
});
