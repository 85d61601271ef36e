/**
 * XSalsa20-Poly1305 from libsodium-wrappers (libsodium compiled to wasm).
 *
 * Loaded through `require`: the package's ESM entry imports a file its
 * dependency does not ship (libsodium-wrappers 0.7.16), the CommonJS one works.
 *
 * @module
 */

import { createRequire } from "node:module";
import { checkKeyNonce, checkOut, TUNNEL_TAG_LEN, type TunnelCipher } from "./cipher.ts";

interface SodiumApi {
  ready: Promise<void>;
  crypto_secretbox_easy(m: Uint8Array, n: Uint8Array, k: Uint8Array): Uint8Array;
  crypto_secretbox_open_easy(c: Uint8Array, n: Uint8Array, k: Uint8Array): Uint8Array;
}

let cached: TunnelCipher | undefined;

/** The wasm cipher (waits for libsodium-wrappers to initialise once). */
export async function tunnelCipherWasm(): Promise<TunnelCipher> {
  if (cached) return cached;
  const s = createRequire(import.meta.url)("libsodium-wrappers") as SodiumApi;
  await s.ready;
  cached = {
    name: "libsodium-wasm",
    seal(out, plain, nonce, key) {
      checkKeyNonce(key, nonce);
      checkOut(out, plain.length + TUNNEL_TAG_LEN);
      out.set(s.crypto_secretbox_easy(plain, nonce, key));
    },
    open(out, boxed, nonce, key) {
      checkKeyNonce(key, nonce);
      if (boxed.length < TUNNEL_TAG_LEN) return false;
      checkOut(out, boxed.length - TUNNEL_TAG_LEN);
      try {
        out.set(s.crypto_secretbox_open_easy(boxed, nonce, key));
        return true;
      } catch {
        return false;
      }
    },
  };
  return cached;
}
