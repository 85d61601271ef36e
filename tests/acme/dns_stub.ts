/**
 * A tiny authoritative DNS responder for tests: every A query is answered with
 * 127.0.0.1, every other type with an empty NOERROR answer. Pebble's VA is
 * pointed at it (`-dnsserver`) so it resolves the test hostnames to loopback.
 *
 * @module
 */

/** Builds the reply to one DNS query, or null when the packet is not a query. */
export function answerQuery(query: Uint8Array): Uint8Array | null {
  if (query.length < 12) return null;
  const view = new DataView(query.buffer, query.byteOffset, query.byteLength);
  if ((view.getUint16(2) & 0x8000) !== 0 || view.getUint16(4) !== 1) return null;
  let i = 12;
  while (i < query.length && query[i] !== 0) i += (query[i] ?? 0) + 1;
  const end = i + 5; // zero label, qtype, qclass
  if (end > query.length) return null;
  const qtype = view.getUint16(i + 1);
  const isA = qtype === 1;
  const out = new Uint8Array(end + (isA ? 16 : 0));
  out.set(query.subarray(0, end));
  const o = new DataView(out.buffer);
  o.setUint16(2, 0x8400 | (view.getUint16(2) & 0x0100)); // QR, AA, copy RD
  o.setUint16(6, isA ? 1 : 0);
  o.setUint16(8, 0);
  o.setUint16(10, 0);
  if (isA) {
    out.set([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1], end);
  }
  return out;
}

/** Serves {@link answerQuery} on a UDP port of 127.0.0.1 until closed. */
export function startDnsStub(): { port: number; close(): void } {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  (async () => {
    try {
      for await (const [data, addr] of sock) {
        const reply = answerQuery(data);
        if (reply) await sock.send(reply, addr);
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (sock.addr as Deno.NetAddr).port,
    close: () => {
      try {
        sock.close();
      } catch {
        // already closed
      }
    },
  };
}
