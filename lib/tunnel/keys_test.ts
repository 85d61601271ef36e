import { assertEquals, assertThrows } from "../testing/assert.ts";
import {
  decodeTunnelKey,
  encodeTunnelKey,
  generateTunnelPrivateKey,
  TunnelKeyPair,
  tunnelPublicKey,
} from "./keys.ts";

const H = (s: string) => Uint8Array.from(s.match(/../g)!, (x) => parseInt(x, 16));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("codec: X25519 public keys and shared secret match RFC 7748 §6.1", () => {
  const a = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const b = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  assertEquals(
    hex(tunnelPublicKey(a)),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assertEquals(
    hex(tunnelPublicKey(b)),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const shared = new TunnelKeyPair(a).dh(tunnelPublicKey(b))!;
  assertEquals(hex(shared), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  assertEquals(hex(new TunnelKeyPair(b).dh(tunnelPublicKey(a))!), hex(shared));
});

Deno.test("codec: a low-order public key gives no shared secret", () => {
  assertEquals(TunnelKeyPair.generate().dh(new Uint8Array(32)), null);
});

Deno.test("codec: keys round-trip through WireGuard-style base64", () => {
  const k = generateTunnelPrivateKey();
  const t = encodeTunnelKey(k);
  assertEquals(t.length, 44);
  assertEquals(hex(decodeTunnelKey(t)), hex(k));
  assertEquals(hex(decodeTunnelKey(` ${t}\n`)), hex(k));
  assertEquals(encodeTunnelKey(new Uint8Array(32)), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
});

Deno.test("codec: bad key text is refused with SyntaxError / RangeError naming it", () => {
  assertThrows(() => decodeTunnelKey("not base64!"), SyntaxError, "not base64!");
  assertThrows(() => decodeTunnelKey("AAAA"), RangeError, "32 bytes");
  assertThrows(() => decodeTunnelKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_="), SyntaxError);
  assertThrows(() => tunnelPublicKey(new Uint8Array(31)), RangeError, "31");
});
