/**
 * XSalsa20-Poly1305 from @noble/ciphers (pure TypeScript).
 *
 * @module
 */

import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { checkKeyNonce, checkOut, TUNNEL_TAG_LEN, type TunnelCipher } from "./cipher.ts";

const cipher: TunnelCipher = {
  name: "noble",
  seal(out, plain, nonce, key) {
    checkKeyNonce(key, nonce);
    checkOut(out, plain.length + TUNNEL_TAG_LEN);
    out.set(xsalsa20poly1305(key, nonce).encrypt(plain));
  },
  open(out, boxed, nonce, key) {
    checkKeyNonce(key, nonce);
    if (boxed.length < TUNNEL_TAG_LEN) return false;
    checkOut(out, boxed.length - TUNNEL_TAG_LEN);
    try {
      out.set(xsalsa20poly1305(key, nonce).decrypt(boxed));
      return true;
    } catch {
      return false;
    }
  },
};

/** The pure-TypeScript cipher. */
export function tunnelCipherNoble(): TunnelCipher {
  return cipher;
}
