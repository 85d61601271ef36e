/**
 * XSalsa20-Poly1305 through FFI to the system libsodium (Debian's libsodium23).
 *
 * @module
 */

import { checkKeyNonce, checkOut, TUNNEL_TAG_LEN, type TunnelCipher } from "./cipher.ts";

const SYMBOLS = {
  sodium_init: { parameters: [], result: "i32" },
  crypto_secretbox_easy: {
    parameters: ["buffer", "buffer", "usize", "buffer", "buffer"],
    result: "i32",
  },
  crypto_secretbox_open_easy: {
    parameters: ["buffer", "buffer", "usize", "buffer", "buffer"],
    result: "i32",
  },
} as const;

/** Library names tried in order. */
export const LIBSODIUM_PATHS = [
  "libsodium.so.23",
  "/usr/lib/x86_64-linux-gnu/libsodium.so.23",
  "libsodium.so",
];

let cached: TunnelCipher | undefined;

/** The FFI cipher; throws Error naming the library when none of {@link LIBSODIUM_PATHS} loads. */
export function tunnelCipherFfi(paths: string[] = LIBSODIUM_PATHS): TunnelCipher {
  if (cached) return cached;
  let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
  const errors: string[] = [];
  for (const path of paths) {
    try {
      lib = Deno.dlopen(path, SYMBOLS);
      break;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  if (!lib) throw new Error(`cannot load libsodium (${errors.join("; ")})`);
  const s = lib.symbols;
  if (s.sodium_init() < 0) throw new Error("sodium_init failed");
  cached = {
    name: "libsodium-ffi",
    seal(out, plain, nonce, key) {
      checkKeyNonce(key, nonce);
      checkOut(out, plain.length + TUNNEL_TAG_LEN);
      s.crypto_secretbox_easy(out, plain, BigInt(plain.length), nonce, key);
    },
    open(out, boxed, nonce, key) {
      checkKeyNonce(key, nonce);
      if (boxed.length < TUNNEL_TAG_LEN) return false;
      checkOut(out, boxed.length - TUNNEL_TAG_LEN);
      return s.crypto_secretbox_open_easy(out, boxed, BigInt(boxed.length), nonce, key) === 0;
    },
  };
  return cached;
}
