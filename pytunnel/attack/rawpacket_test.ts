import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { buildIPv4Udp, checksum, SpoofedDatagrams } from "./rawpacket.ts";
import { parseIPv4 } from "../ipaddr.ts";

Deno.test("codec: IPv4/UDP packets carry valid header and UDP checksums", () => {
  for (const len of [0, 1, 7, 148, 1001]) {
    const payload = Uint8Array.from({ length: len }, (_, i) => (i * 31 + 7) & 255);
    const src = parseIPv4("10.200.3.4")!, dst = parseIPv4("10.77.0.1")!;
    const pkt = buildIPv4Udp({ src, dst, srcPort: 4242, dstPort: 51820 }, payload);
    assertEquals(pkt.length, 28 + len);
    assertEquals(checksum(pkt.subarray(0, 20)), 0);
    const udpLen = 8 + len;
    const pseudo = new Uint8Array(12 + udpLen);
    pseudo.set(pkt.subarray(12, 20));
    pseudo[9] = 17;
    new DataView(pseudo.buffer).setUint16(10, udpLen);
    pseudo.set(pkt.subarray(20), 12);
    assertEquals(checksum(pseudo), 0);
    assertEquals(pkt.subarray(28), payload);
  }
});

Deno.test("codec: checksum matches the RFC 1071 example", () => {
  const data = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assertEquals(checksum(data), ~0xddf2 & 0xffff);
});

Deno.test("codec: spoofed datagrams patched from a template carry valid UDP checksums", () => {
  const dst = parseIPv4("10.77.0.1")!;
  const pool = Array.from(
    { length: 3 },
    (_, k) => Uint8Array.from({ length: 133 }, (_, i) => (i * 7 + k) & 255),
  );
  const d = new SpoofedDatagrams(
    dst,
    51820,
    { address: parseIPv4("10.200.0.0")!, prefix: 16 },
    pool,
  );
  const slot = 200, n = 5;
  const buf = new Uint8Array(slot * n);
  d.prepare(buf, n, slot);
  for (let round = 0; round < 2; round++) {
    d.fill(buf, n, slot);
    for (let i = 0; i < n; i++) {
      const pkt = buf.subarray(i * slot, i * slot + d.length);
      const v = new DataView(pkt.buffer, pkt.byteOffset);
      assertEquals(pkt[0], 0x45);
      assertEquals(v.getUint32(16), dst);
      assertEquals(v.getUint16(22), 51820);
      assertEquals(v.getUint32(12) >>> 16, (10 << 8) | 200);
      assert(v.getUint16(20) >= 1024);
      assertEquals(pkt.subarray(28), pool[(round * n + i) % 3]);
      const src = v.getUint32(12);
      const rebuilt = buildIPv4Udp(
        { src, dst, srcPort: v.getUint16(20), dstPort: 51820 },
        pool[(round * n + i) % 3]!,
      );
      assertEquals(v.getUint16(26), new DataView(rebuilt.buffer).getUint16(26));
    }
  }
});
