/**
 * XSalsa20-Poly1305 through FFI to the system libsodium (Debian's libsodium23).
 *
 * @module
 */

import { checkKeyNonce, checkOut, TUNNEL_TAG_LEN, type TunnelCipher } from "./cipher.ts";
import { sodiumSymbols } from "./sodium.ts";

export { LIBSODIUM_PATHS } from "./sodium.ts";

let cached: TunnelCipher | undefined;

/** The FFI cipher; throws Error naming the library paths when libsodium does not load. */
export function tunnelCipherFfi(): TunnelCipher {
  if (cached) return cached;
  const s = sodiumSymbols();
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
