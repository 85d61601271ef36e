/**
 * The two usrsctp notifications the transport subscribes to (RFC 6458 §6.1), decoded from
 * the bytes recvv hands back with MSG_NOTIFICATION.
 *
 * @module
 */
import {
  SCTP_ASSOC_CHANGE,
  SCTP_CANT_STR_ASSOC,
  SCTP_COMM_LOST,
  SCTP_COMM_UP,
  SCTP_RESTART,
  SCTP_SHUTDOWN_COMP,
  SCTP_SHUTDOWN_EVENT,
} from "./usrsctp.ts";

/** What happened to an association. */
export type AssociationEvent =
  | { kind: "up"; assocId: number; outboundStreams: number }
  | { kind: "restart"; assocId: number; outboundStreams: number }
  | { kind: "down"; assocId: number; reason: "lost" | "shutdown" | "cant-start" };

/** Decodes an SCTP_ASSOC_CHANGE or SCTP_SHUTDOWN_EVENT; null for anything else. */
export function decodeNotification(b: Uint8Array): AssociationEvent | null {
  if (b.length < 8) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = v.getUint16(0, true);
  if (type === SCTP_SHUTDOWN_EVENT && b.length >= 12) {
    return { kind: "down", assocId: v.getUint32(8, true), reason: "shutdown" };
  }
  if (type !== SCTP_ASSOC_CHANGE || b.length < 20) return null;
  const state = v.getUint16(8, true);
  const outboundStreams = v.getUint16(12, true);
  const assocId = v.getUint32(16, true);
  switch (state) {
    case SCTP_COMM_UP:
      return { kind: "up", assocId, outboundStreams };
    case SCTP_RESTART:
      return { kind: "restart", assocId, outboundStreams };
    case SCTP_COMM_LOST:
      return { kind: "down", assocId, reason: "lost" };
    case SCTP_SHUTDOWN_COMP:
      return { kind: "down", assocId, reason: "shutdown" };
    case SCTP_CANT_STR_ASSOC:
      return { kind: "down", assocId, reason: "cant-start" };
  }
  return null;
}
