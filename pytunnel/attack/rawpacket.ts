/**
 * Hand-built IPv4 + UDP datagrams (with checksums) for the spoofed-source flood.
 *
 * @module
 */

/** The Internet checksum (RFC 1071) of `data`, continuing from `initial`. */
export function checksum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Addresses and ports of one datagram; addresses as 32-bit numbers. */
export interface UdpHeaderFields {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  ttl?: number;
  id?: number;
}

/** Builds a complete IPv4 packet (20-byte header, no options) carrying a UDP datagram. */
export function buildIPv4Udp(f: UdpHeaderFields, payload: Uint8Array): Uint8Array {
  const udpLen = 8 + payload.length;
  const total = 20 + udpLen;
  if (total > 0xffff) throw new RangeError(`datagram of ${total} bytes exceeds 65535`);
  const pkt = new Uint8Array(total);
  const v = new DataView(pkt.buffer);
  pkt[0] = 0x45;
  v.setUint16(2, total);
  v.setUint16(4, f.id ?? 0);
  v.setUint16(6, 0x4000); // don't fragment
  pkt[8] = f.ttl ?? 64;
  pkt[9] = 17;
  v.setUint32(12, f.src >>> 0);
  v.setUint32(16, f.dst >>> 0);
  v.setUint16(10, checksum(pkt.subarray(0, 20)));
  v.setUint16(20, f.srcPort);
  v.setUint16(22, f.dstPort);
  v.setUint16(24, udpLen);
  pkt.set(payload, 28);
  // Pseudo-header: src, dst, zero, protocol, UDP length.
  let pseudo = (f.src >>> 16) + (f.src & 0xffff) + (f.dst >>> 16) + (f.dst & 0xffff) + 17 +
    udpLen;
  while (pseudo > 0xffff) pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
  const sum = checksum(pkt.subarray(20), pseudo);
  v.setUint16(26, sum === 0 ? 0xffff : sum);
  return pkt;
}
