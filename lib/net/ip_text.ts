/**
 * IP addresses as text and as bytes, for the batched UDP path: it reads
 * addresses from sockaddr bytes and must print them exactly as Deno's own
 * receive does (Rust's Display: RFC 5952 for IPv6, `::ffff:a.b.c.d` for
 * IPv4-mapped), so that an address seen on either path compares equal.
 *
 * @module
 */

const HEX = Array.from({ length: 65536 }, (_, i) => i.toString(16));

/** Dotted IPv4 to a u32, or null for anything else (IPv6, names). */
export function parseIpv4(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const b = Number(p);
    if (b > 255) return null;
    v = v * 256 + b;
  }
  return v;
}

/** A u32 IPv4 address in dotted form. */
export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/**
 * The 16 bytes of a textual IPv6 address ("fd31::1", "::ffff:10.0.0.1"), or
 * null (not IPv6, or with a zone such as "%eth0").
 */
export function parseIpv6(host: string): Uint8Array | null {
  let t = host;
  if (t.includes(".")) {
    // An IPv4 tail ("::ffff:10.0.0.1") stands for the last two words.
    const colon = t.lastIndexOf(":");
    const v4 = colon < 0 ? null : parseIpv4(t.slice(colon + 1));
    if (v4 === null) return null;
    t = `${t.slice(0, colon + 1)}${HEX[v4 >>> 16]}:${HEX[v4 & 0xffff]}`;
  }
  if (!/^[0-9a-fA-F:]*$/.test(t)) return null;
  const halves = t.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!), tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i]!)) return null;
    const v = parseInt(all[i]!, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  return out;
}

/** 16 address bytes at `at` of `b` as text, as Deno prints them (see the module doc). */
export function formatIpv6(b: Uint8Array, at = 0): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  }
  // The first longest run of two or more zero words becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return w.map((x) => HEX[x]).join(":");
  const left = w.slice(0, best).map((x) => HEX[x]).join(":");
  const right = w.slice(best + bestLen).map((x) => HEX[x]).join(":");
  return `${left}::${right}`;
}
