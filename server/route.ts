/**
 * Which KCP instance owns a ClientID (num-turbotunnel, docs/PROTOCOL.md §5): every carrier
 * of one client must reach the same instance, in whichever Worker the carrier landed.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import type { ClientID } from "../lib/turbotunnel/mod.ts";

/** HMAC-SHA256(key, id) as a little-endian u64, mod `n`. */
export function instanceIndex(key: Uint8Array, id: ClientID, n: number): number {
  if (n === 1) return 0;
  const mac = createHmac("sha256", Buffer.from(key)).update(id.bytes).digest();
  return Number(mac.readBigUInt64LE(0) % BigInt(n));
}
