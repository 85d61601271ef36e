/**
 * Bad input for the sctp server, from a raw socket with spoofed sources (run as root in the
 * client's namespace): SCTP INIT chunks over UDP encapsulation from random addresses in
 * 10.200.0.0/16, mixed with malformed packets — chunks of random type and length, forged
 * COOKIE ECHOs, DATA with wrong verification tags (all with a valid CRC32c, so that they
 * reach the chunk parser), bad checksums and truncated headers.
 *
 * Usage: deno run --allow-ffi --allow-read tests/sctp/init_flood.ts DST_IP DST_PORT COUNT
 * Prints one JSON line: `{"sent":N,"seconds":S}`.
 *
 * @module
 */
import { RawIPv4Socket } from "../../pytunnel/attack/rawsocket.ts";
import { buildIPv4Udp } from "../../pytunnel/attack/rawpacket.ts";

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32c (Castagnoli), as SCTP's checksum (RFC 9260 Appendix B). */
function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC32C_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const rand = new Uint32Array(1024);
let ri = rand.length;
function next(): number {
  if (ri === rand.length) {
    crypto.getRandomValues(rand);
    ri = 0;
  }
  return rand[ri++]!;
}

/** An SCTP packet: common header (checksum filled in) and chunks. */
function sctpPacket(dstPort: number, vtag: number, chunks: Uint8Array, goodCrc = true) {
  const p = new Uint8Array(12 + chunks.length);
  const v = new DataView(p.buffer);
  v.setUint16(0, 1024 + (next() % 60000));
  v.setUint16(2, dstPort);
  v.setUint32(4, vtag);
  p.set(chunks, 12);
  v.setUint32(8, goodCrc ? crc32c(p) : next(), true); // CRC32c goes on the wire little-endian
  return p;
}

function chunk(type: number, flags: number, body: Uint8Array, declaredLength?: number) {
  const padded = (4 + body.length + 3) & ~3;
  const c = new Uint8Array(padded);
  const v = new DataView(c.buffer);
  c[0] = type;
  c[1] = flags;
  v.setUint16(2, declaredLength ?? 4 + body.length);
  c.set(body, 4);
  return c;
}

function init(): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, next() | 1); // initiate tag, non-zero
  v.setUint32(4, 1 << 20); // a_rwnd
  v.setUint16(8, 1024);
  v.setUint16(10, 1024);
  v.setUint32(12, next());
  return chunk(1, 0, b);
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/** One packet of the mix: mostly INIT, the rest malformed in various ways. */
function nextPayload(dstPort: number): Uint8Array {
  const kind = next() % 16;
  if (kind < 10) return sctpPacket(dstPort, 0, init());
  switch (kind) {
    case 10: // a chunk of random type whose length runs past the packet
      return sctpPacket(dstPort, next(), chunk(next() & 0xff, next() & 0xff, randomBytes(8), 400));
    case 11: // a forged COOKIE ECHO
      return sctpPacket(dstPort, next(), chunk(10, 0, randomBytes(200)));
    case 12: // DATA with a wrong verification tag
      return sctpPacket(dstPort, next(), chunk(0, 3, randomBytes(64)));
    case 13: // INIT with a bad checksum
      return sctpPacket(dstPort, 0, init(), false);
    case 14: // a truncated common header
      return randomBytes(next() % 12);
    default: // several random chunks, one of them an INIT (must be alone: discarded)
      return sctpPacket(
        dstPort,
        0,
        new Uint8Array([...init(), ...chunk(next() & 0xff, 0, randomBytes(12))]),
      );
  }
}

const [dstIp, dstPortText, countText] = Deno.args;
if (!dstIp || !dstPortText || !countText) {
  throw new TypeError("usage: init_flood.ts DST_IP DST_PORT COUNT");
}
const dst = dstIp.split(".").reduce((a, o) => (a << 8) | Number(o), 0) >>> 0;
const dstPort = Number(dstPortText);
const count = Number(countText);
const spoofBase = (10 << 24) | (200 << 16);
const sock = RawIPv4Socket.open();
const t0 = performance.now();
let sent = 0;
while (sent < count) {
  const src = (spoofBase | (1 + (next() % 65534))) >>> 0;
  const pkt = buildIPv4Udp(
    { src, dst, srcPort: 1024 + (next() % 60000), dstPort },
    nextPayload(dstPort),
  );
  if (sock.send(pkt)) sent++;
  else await new Promise((r) => setTimeout(r, 1));
}
sock.close();
console.log(JSON.stringify({ sent, seconds: (performance.now() - t0) / 1000 }));
