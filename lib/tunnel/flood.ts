/**
 * Test and attack-tool payloads: initiations an attacker can build knowing
 * only the server's public key (valid mac1, garbage inside, no cookie).
 *
 * @module
 */

import { mac1Key, writeMac } from "./cookie.ts";
import { INIT_MAC1_OFFSET, INIT_SIZE, MSG_INIT } from "./messages.ts";

/**
 * A fresh INIT with random sender index, ephemeral and boxes and a valid mac1,
 * so it passes the server's cheapest check and must be answered by a cookie
 * challenge without any Diffie-Hellman.
 */
export function buildTunnelFloodInitiation(serverPublicKey: Uint8Array): Uint8Array {
  const m = crypto.getRandomValues(new Uint8Array(INIT_SIZE));
  m[0] = MSG_INIT;
  m[1] = m[2] = m[3] = 0;
  writeMac(mac1Key(serverPublicKey), m, INIT_MAC1_OFFSET);
  return m;
}
