/**
 * Small address helpers for pytunnel's configuration and attack tools.
 *
 * @module
 */

import { parseTunnelIPv6 } from "../lib/tunnel/ipv6.ts";

/** Parses dotted-quad IPv4 into a 32-bit unsigned number, or null. */
export function parseIPv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** Formats a 32-bit number as dotted-quad IPv4. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** An IPv4 network with its address as written (e.g. 10.8.0.1/24). */
export interface Cidr {
  address: number;
  prefix: number;
}

/** Parses `a.b.c.d/n`; returns null when malformed. */
export function parseCidr(s: string): Cidr | null {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) return null;
  const address = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (address === null || prefix > 32) return null;
  return { address, prefix };
}

/** The netmask of a prefix length as an unsigned 32-bit number. */
export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** True when `ip` lies inside `net`. */
export function contains(net: Cidr, ip: number): boolean {
  const m = mask(net.prefix);
  return ((net.address & m) >>> 0) === ((ip & m) >>> 0);
}

/** The 16 bytes of an IPv6 address ("fd09::1", "[::1]", "fe80::1%eth0"), or null. */
export function parseIPv6(s: string): Uint8Array | null {
  const host = s.replace(/^\[|\]$/g, "").split("%")[0]!;
  return host.includes(":") && !host.includes("/") ? parseTunnelIPv6(host) : null;
}

/**
 * True for addresses an attack tool may target: IPv4 loopback (127/8), RFC 1918
 * (10/8, 172.16/12, 192.168/16), IPv6 loopback (::1) and ULA (fc00::/7).
 */
export function isLoopbackOrPrivate(host: string): boolean {
  const v4 = parseIPv4(host);
  if (v4 !== null) {
    const a = v4 >>> 24, b = (v4 >>> 16) & 255;
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168);
  }
  const v6 = parseIPv6(host);
  if (!v6) return false;
  if (v6.slice(0, 15).every((x) => x === 0) && v6[15] === 1) return true;
  return (v6[0]! & 0xfe) === 0xfc;
}

/** Splits `host:port` or `[v6]:port`; throws SyntaxError naming the value when malformed. */
export function parseHostPort(s: string): { hostname: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new SyntaxError(`"${s}" is not host:port`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`port in "${s}" must be 1 to 65535`);
  }
  return { hostname: m[1]!, port };
}
