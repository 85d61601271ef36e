/**
 * kcp-go's packet framing when a BlockCrypt is set, as kcptun's `--crypt none`
 * uses: a 16-byte random nonce, then CRC32-IEEE (little-endian) of everything
 * after it, then the KCP segments. The "none" cipher leaves all of it in clear.
 *
 * @module
 */
import { crc32 as zlibCrc32 } from "node:zlib";

// Spec constants (kcp-go).
export const NONCE_SIZE = 16;
export const CRC_SIZE = 4;
/** Bytes the framing adds before the segments. */
export const CRYPT_HEADER_SIZE = NONCE_SIZE + CRC_SIZE;

/** CRC32-IEEE of `data` (zlib's native one: ~14x faster than a JS table here). */
export function crc32(data: Uint8Array): number {
  return zlibCrc32(data) >>> 0;
}

// Nonces come from a pooled random buffer: one getRandomValues call per 256 packets.
const noncePool = new Uint8Array(NONCE_SIZE * 256);
let noncePos = noncePool.length;

/**
 * Fills the first {@link CRYPT_HEADER_SIZE} bytes of `packet` (nonce and CRC of
 * the rest) in place. The segments must already be at offset 20.
 */
export function sealNone(packet: Uint8Array): void {
  if (packet.length < CRYPT_HEADER_SIZE) {
    throw new RangeError(`packet of ${packet.length} bytes is shorter than the crypt header`);
  }
  if (noncePos === noncePool.length) {
    crypto.getRandomValues(noncePool);
    noncePos = 0;
  }
  packet.set(noncePool.subarray(noncePos, noncePos + NONCE_SIZE), 0);
  noncePos += NONCE_SIZE;
  const crc = crc32(packet.subarray(CRYPT_HEADER_SIZE));
  packet[16] = crc;
  packet[17] = crc >>> 8;
  packet[18] = crc >>> 16;
  packet[19] = crc >>> 24;
}

/**
 * Checks the framing of a received packet and returns a view of its segments,
 * or null when it is too short or the CRC does not match (caller counts and drops).
 */
export function openNone(packet: Uint8Array): Uint8Array | null {
  if (packet.length < CRYPT_HEADER_SIZE) return null;
  const body = packet.subarray(CRYPT_HEADER_SIZE);
  const want = (packet[16]! | (packet[17]! << 8) | (packet[18]! << 16) | (packet[19]! << 24)) >>>
    0;
  return crc32(body) === want ? body : null;
}
