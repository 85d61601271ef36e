/**
 * The system libsodium through FFI, loaded once: the data cipher and the fast
 * paths of SHA-256, HMAC-SHA256 and X25519 use it. Null when it cannot be
 * loaded (library missing, or no --allow-ffi); callers then fall back.
 *
 * @module
 */

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
  crypto_hash_sha256: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  crypto_auth_hmacsha256_statebytes: { parameters: [], result: "usize" },
  crypto_auth_hmacsha256_init: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  crypto_auth_hmacsha256_update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  crypto_auth_hmacsha256_final: { parameters: ["buffer", "buffer"], result: "i32" },
  crypto_scalarmult: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  crypto_scalarmult_base: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/** Library names tried in order. */
export const LIBSODIUM_PATHS = [
  "libsodium.so.23",
  "/usr/lib/x86_64-linux-gnu/libsodium.so.23",
  "libsodium.so",
];

export type SodiumSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: { symbols: SodiumSymbols } | { error: string } | undefined;

/** The libsodium symbols; throws Error naming every path tried when none loads. */
export function sodiumSymbols(): SodiumSymbols {
  if (!loaded) {
    const errors: string[] = [];
    for (const path of LIBSODIUM_PATHS) {
      try {
        const lib = Deno.dlopen(path, SYMBOLS);
        if (lib.symbols.sodium_init() < 0) throw new Error("sodium_init failed");
        loaded = { symbols: lib.symbols };
        break;
      } catch (e) {
        errors.push(`${path}: ${(e as Error).message}`);
      }
    }
    loaded ??= { error: `cannot load libsodium (${errors.join("; ")})` };
  }
  if ("error" in loaded) throw new Error(loaded.error);
  return loaded.symbols;
}

/** The symbols, or null when libsodium is unavailable. */
export function trySodium(): SodiumSymbols | null {
  try {
    return sodiumSymbols();
  } catch {
    return null;
  }
}
