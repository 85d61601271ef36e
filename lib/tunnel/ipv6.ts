/**
 * IPv6 address helpers for the routing table: an address is keyed by a
 * 32-character hex string (Map keys), parsed from text or read from a packet.
 *
 * @module
 */

import { parseIpv6 } from "../net/ip_text.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The 16 bytes of an IPv6 address in text form ("fd09::2", "/prefix" ignored); null if bad. */
export function parseTunnelIPv6(text: string): Uint8Array | null {
  return parseIpv6(text.trim().replace(/\/\d{1,3}$/, ""));
}

/** The routing key of 16 address bytes at `offset` of `b`. */
export function ipv6Key(b: Uint8Array, offset = 0): string {
  let s = "";
  for (let i = offset; i < offset + 16; i++) s += HEX[b[i]!];
  return s;
}

/** The routing key of an address in text form; SyntaxError naming `what` if bad. */
export function toTunnelIPv6Key(text: string, what: string): string {
  const a = parseTunnelIPv6(text);
  if (!a) throw new SyntaxError(`${what} "${text}" is not an IPv6 address`);
  return ipv6Key(a);
}

/** True for a buffer that can be an IPv6 packet: version 6, payload length fits. */
export function isIPv6Packet(p: Uint8Array): boolean {
  return p.length >= 40 && p[0]! >> 4 === 6 && 40 + ((p[4]! << 8) | p[5]!) <= p.length;
}

/** Source key of an IPv6 packet (caller checked {@link isIPv6Packet}). */
export function ipv6SourceKey(p: Uint8Array): string {
  return ipv6Key(p, 8);
}

/** Destination key of an IPv6 packet (caller checked {@link isIPv6Packet}). */
export function ipv6DestinationKey(p: Uint8Array): string {
  return ipv6Key(p, 24);
}

/**
 * True for an IPv6 packet a client sends on: not from a link-local address
 * and not to a multicast one (the OS's neighbour and router chatter stays local).
 */
export function isRoutableIPv6(p: Uint8Array): boolean {
  const linkLocalSource = p[8] === 0xfe && (p[9]! & 0xc0) === 0x80;
  return !linkLocalSource && p[24] !== 0xff;
}
