/**
 * `pytunnel attack flood`: spoofed-source handshake initiations through a raw
 * socket. Each packet comes from a random address in the spoof range and a
 * random port, so per-source rate limits never apply and only the stateless
 * cookie protects the server's DH work.
 *
 * The tool must not itself take the CPU the measured tunnel needs (a benchmark
 * runs it on the same machine): payloads are made once into a pool, each
 * packet is a template with its source, payload and UDP checksum patched
 * (rawpacket.ts), and packets leave in batches of up to 64 per sendmmsg,
 * paced every millisecond to the rate asked for.
 *
 * @module
 */

import process from "node:process";
import { MmsgVectors, sockaddrOf } from "../../lib/net/mmsg.ts";
import { RawIPv4Socket } from "./rawsocket.ts";
import { SpoofedDatagrams } from "./rawpacket.ts";
import { parseIPv4 } from "../ipaddr.ts";

// Implementation constants.
/** Distinct payloads, made before the first packet leaves. */
const POOL = 1024;
/** Packets per sendmmsg. */
const BATCH = 64;
/** A sender that fell this far behind its schedule skips the missed packets (no burst). */
const MAX_BACKLOG_SECONDS = 0.1;

/** What a flood run did. */
export interface FloodResult {
  sent: number;
  retries: number;
  seconds: number;
  packetsPerSecond: number;
  /** CPU seconds (user + system) the sender used. */
  cpuSeconds: number;
}

/** Options of {@link flood}. */
export interface FloodOptions {
  target: { hostname: string; port: number };
  count: number;
  spoof: { address: number; prefix: number };
  /** Builds one initiation payload (fresh randomness each call); all of one length. */
  payload: () => Uint8Array;
  /** Packets per second; 0 or absent means as fast as the kernel takes them. */
  rate?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) this process has used. */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Sends `count` spoofed datagrams to the target. Needs root or CAP_NET_RAW. */
export async function flood(options: FloodOptions): Promise<FloodResult> {
  const dst = parseIPv4(options.target.hostname);
  if (dst === null) {
    throw new TypeError(`flood needs an IPv4 target, got ${options.target.hostname}`);
  }
  const datagrams = new SpoofedDatagrams(
    dst,
    options.target.port,
    options.spoof,
    Array.from({ length: POOL }, options.payload),
  );
  const batch = new MmsgVectors(datagrams.length, BATCH);
  const name = sockaddrOf(options.target.hostname, 0, "ipv4")!;
  for (let i = 0; i < BATCH; i++) {
    batch.setName(i, name);
    batch.setLength(i, datagrams.length);
  }
  datagrams.prepare(batch.slots, BATCH, batch.slot);
  const rate = options.rate && options.rate > 0 ? options.rate : 0;
  const sock = RawIPv4Socket.open();
  const cpu0 = cpuNow();
  const started = performance.now();
  let sent = 0, retries = 0, skipped = 0;
  try {
    while (sent < options.count && !options.signal?.aborted) {
      let due = options.count;
      if (rate > 0) {
        due = Math.min(due, Math.floor(((performance.now() - started) / 1000) * rate) - skipped);
        if (due - sent > rate * MAX_BACKLOG_SECONDS) {
          skipped += due - sent - Math.ceil(rate * MAX_BACKLOG_SECONDS);
          due = sent + Math.ceil(rate * MAX_BACKLOG_SECONDS);
        }
      } else {
        due = Math.min(due, sent + 16 * BATCH);
      }
      while (sent < due) {
        const n = Math.min(BATCH, due - sent);
        datagrams.fill(batch.slots, n, batch.slot);
        const took = sock.sendBatch(batch, n);
        sent += took;
        if (took < n) {
          retries++;
          break;
        }
      }
      // Timers and signals run here; at 40k packets/s about 40 packets are due per wakeup.
      await sleep(rate > 0 ? 1 : 0);
    }
  } finally {
    sock.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    sent,
    retries,
    seconds,
    packetsPerSecond: Math.round(sent / Math.max(seconds, 1e-6)),
    cpuSeconds: cpuNow() - cpu0,
  };
}
