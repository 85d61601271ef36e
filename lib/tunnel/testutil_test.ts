// Shared helpers of the lib/tunnel tests (no tests here).
import { ClosedError } from "../net/errors.ts";
import { parseTunnelIPv4 } from "./ipv4.ts";

/** A minimal IPv4/UDP-ish packet: 20-byte header (protocol 17), then `payload`. */
export function ipv4Packet(src: string, dst: string, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 255;
  p[8] = 64;
  p[9] = 17;
  const s = parseTunnelIPv4(src);
  const d = parseTunnelIPv4(dst);
  for (let i = 0; i < 4; i++) {
    p[12 + i] = (s >>> (24 - 8 * i)) & 255;
    p[16 + i] = (d >>> (24 - 8 * i)) & 255;
  }
  p.set(payload, 20);
  return p;
}

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Polls `cond` every 5 ms until it holds; throws after `ms` (a hang guard, not a timing claim). */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A PacketConn that only records what is written to it (for driving a core by hand). */
export class CaptureConn {
  readonly localAddr = { network: "udp", toString: () => "192.0.2.1:51820" };
  sent: { data: Uint8Array; to: string }[] = [];
  #closed = Promise.withResolvers<never>();
  readFrom(): Promise<never> {
    return this.#closed.promise;
  }
  writeTo(data: Uint8Array, addr: { toString(): string }): Promise<void> {
    this.sent.push({ data, to: addr.toString() });
    return Promise.resolve();
  }
  close(): void {
    this.#closed.reject(new ClosedError("capture conn"));
    this.#closed.promise.catch(() => {});
  }
}
