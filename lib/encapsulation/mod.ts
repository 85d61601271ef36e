/**
 * Snowflake's encapsulation of packets in a byte stream (PROTOCOL.md §2) and a PacketConn
 * adapter over any Conn.
 *
 * @example
 * ```ts
 * import { encodePacket, PacketDecoder } from "./mod.ts";
 * const d = new PacketDecoder();
 * d.push(encodePacket(new Uint8Array([1, 2, 3])));
 * console.log(d.next()); // Uint8Array [1, 2, 3]
 * ```
 *
 * @module
 */
export {
  encodePacket,
  encodePadding,
  MAX_PACKET_LENGTH,
  PacketDecoder,
  prefixLength,
} from "./codec.ts";
export { EncapsulatedPacketConn, type EncapsulatedPacketConnOptions } from "./packet_conn.ts";
