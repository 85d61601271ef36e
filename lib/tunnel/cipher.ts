/**
 * The data cipher behind one small interface: XSalsa20-Poly1305 (NaCl
 * secretbox), three implementations, and the loader that picks the default.
 *
 * The boxed format is libsodium's `crypto_secretbox_easy`: 16-byte Poly1305 tag
 * followed by the ciphertext, so every implementation produces the same bytes.
 *
 * @module
 */

import { tunnelCipherFfi } from "./cipher_ffi.ts";
import { tunnelCipherNoble } from "./cipher_noble.ts";
import { tunnelCipherWasm } from "./cipher_wasm.ts";

/** Key length of XSalsa20-Poly1305. */
export const TUNNEL_KEY_LEN = 32;
/** Nonce length of XSalsa20-Poly1305. */
export const TUNNEL_NONCE_LEN = 24;
/** Poly1305 tag length. */
export const TUNNEL_TAG_LEN = 16;

/** XSalsa20-Poly1305 seal/open. Implementations are synchronous and keep no per-call state. */
export interface TunnelCipher {
  readonly name: string;
  /** Writes tag ‖ ciphertext of `plain` into `out` (exactly `plain.length + 16` bytes). */
  seal(out: Uint8Array, plain: Uint8Array, nonce: Uint8Array, key: Uint8Array): void;
  /**
   * Writes the plaintext of `boxed` into `out` (exactly `boxed.length − 16` bytes);
   * false when the tag does not verify (then `out` holds nothing useful).
   */
  open(out: Uint8Array, boxed: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean;
}

/** Which implementation {@link loadTunnelCipher} should use. */
export type TunnelCipherKind = "auto" | "ffi" | "wasm" | "noble";

/**
 * Loads a cipher. "auto" (the default) is FFI libsodium, the fastest measured
 * (tests/bench/cipher_bench.ts), falling back to libsodium-wrappers (wasm) with a
 * log line when libsodium cannot be loaded (missing library or no --allow-ffi).
 */
export async function loadTunnelCipher(
  kind: TunnelCipherKind = "auto",
  log: (line: string) => void = () => {},
): Promise<TunnelCipher> {
  switch (kind) {
    case "ffi":
      return tunnelCipherFfi();
    case "wasm":
      return await tunnelCipherWasm();
    case "noble":
      return tunnelCipherNoble();
    case "auto":
      try {
        return tunnelCipherFfi();
      } catch (e) {
        log(`libsodium FFI unavailable (${(e as Error).message}); using libsodium-wrappers (wasm)`);
        return await tunnelCipherWasm();
      }
    default:
      throw new TypeError(`unknown cipher kind "${kind as string}"`);
  }
}

/** Throws RangeError unless key and nonce have their fixed lengths. */
export function checkKeyNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== TUNNEL_KEY_LEN) {
    throw new RangeError(`cipher key must be ${TUNNEL_KEY_LEN} bytes, got ${key.length}`);
  }
  if (nonce.length !== TUNNEL_NONCE_LEN) {
    throw new RangeError(`cipher nonce must be ${TUNNEL_NONCE_LEN} bytes, got ${nonce.length}`);
  }
}

/** Throws RangeError unless `out` has exactly `want` bytes. */
export function checkOut(out: Uint8Array, want: number): void {
  if (out.length !== want) {
    throw new RangeError(`cipher output must be ${want} bytes, got ${out.length}`);
  }
}
