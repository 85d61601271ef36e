/**
 * Snowflake's encapsulation of packets in a byte stream (docs/PROTOCOL.md §2).
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
  encodePacketInto,
  encodePadding,
  MAX_PACKET_LENGTH,
  PacketDecoder,
  type PacketDecoderOptions,
  prefixLength,
} from "./codec.ts";
