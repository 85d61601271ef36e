/** IPv4 address helpers for the routing table (addresses as u32 numbers). @module */

/** Parses dotted-quad IPv4 ("10.0.0.2", an optional "/prefix" is ignored); SyntaxError if bad. */
export function parseTunnelIPv4(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/\d{1,2})?$/.exec(text.trim());
  if (!m) throw new SyntaxError(`"${text}" is not an IPv4 address`);
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) throw new SyntaxError(`"${text}" is not an IPv4 address`);
    v = v * 256 + o;
  }
  return v;
}

/** Dotted-quad text of a u32 address. */
export function formatTunnelIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Accepts a u32 or dotted-quad text; RangeError / SyntaxError naming `what`. */
export function toTunnelIPv4(v: number | string, what: string): number {
  if (typeof v === "string") return parseTunnelIPv4(v);
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`${what} ${v} is not an IPv4 address`);
  }
  return v;
}

/** Source address of an IPv4 packet (caller checked length ≥ 20). */
export function ipv4Source(p: Uint8Array): number {
  return ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
}

/** Destination address of an IPv4 packet (caller checked length ≥ 20). */
export function ipv4Destination(p: Uint8Array): number {
  return ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
}

/** True for a buffer that can be an IPv4 packet: version 4, IHL ≥ 5, total length fits. */
export function isIPv4Packet(p: Uint8Array): boolean {
  if (p.length < 20 || p[0]! >> 4 !== 4 || (p[0]! & 15) < 5) return false;
  const total = (p[2]! << 8) | p[3]!;
  return total >= 20 && total <= p.length;
}
