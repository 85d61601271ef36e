/**
 * The one carrier pump of Turbo Tunnel: moves packets between one carrier (a byte-stream
 * {@link Conn} through one proxy: a WebSocket, a data channel, a memory twin; or the same
 * bytes as a lighter {@link ChunkLink}, as the server's WebSocket listener gives) and the
 * client's KCP side. The server ({@link serveCarrier}) and the client ({@link runCarrier})
 * both call it; so do the tests.
 *
 * Incoming bytes go through a {@link CarrierParser} as they arrive and every packet is
 * handed to {@link CarrierEndpoint.deliver} at once (which drops when full, so a flood
 * never buffers more than one partial packet). Outgoing packets are taken from the
 * client's {@link SendQueue} in batches and written as one chunk each; the writer waits
 * for the Conn's backpressure. Anything malformed ends only this carrier.
 *
 * @module
 */
import { type ChunkLink, type Conn, connLink } from "../net/mod.ts";
import {
  CarrierError,
  type CarrierFault,
  CarrierParser,
  encodeCarrierHeader,
} from "./carrier_parser.ts";
import type { ClientID } from "./client_id.ts";
import type { SendQueue } from "./send_queue.ts";

/** Where one carrier's packets go and where its outgoing packets come from. */
export interface CarrierEndpoint {
  /** Takes one packet from the peer; false when it was dropped (a full queue). */
  deliver(data: Uint8Array): boolean;
  /** The queue this carrier drains, attached for the carrier's lifetime. */
  readonly queue: SendQueue;
  /** Called once when the carrier ends (detach from the queue). */
  release(): void;
}

/** Options for {@link serveCarrier} and {@link runCarrier}. */
export interface CarrierOptions {
  /** Largest encapsulated chunk accepted (see {@link CarrierParser}). Default 65535. */
  maxLength?: number;
  /** Packets are batched into chunks of up to this many bytes. Default 64 KiB. */
  batchBytes?: number;
  /** Ends the carrier (closing the Conn) with the signal's reason. */
  signal?: AbortSignal;
  /** Clock for {@link CarrierStats.lastRead}. Default Date.now. */
  now?: () => number;
}

/** What one carrier moved; updated as it runs. */
export interface CarrierStats {
  bytesIn: number;
  packetsIn: number;
  /** Packets {@link CarrierEndpoint.deliver} refused. */
  dropsIn: number;
  bytesOut: number;
  packetsOut: number;
  /** When bytes last arrived (the clock of {@link CarrierOptions.now}). */
  lastRead: number;
  /** The client, once its header arrived (server) or from the start (client). */
  clientId: ClientID | null;
}

/** Why a carrier ended. */
export interface CarrierEnd {
  /**
   * `eof`: the peer closed cleanly. `closed`: the Conn failed or the queue closed.
   * `aborted`: the signal fired. Or the {@link CarrierFault} of a malformed stream.
   */
  reason: "eof" | "closed" | "aborted" | CarrierFault;
  error?: unknown;
}

/** A fresh {@link CarrierStats}. */
export function carrierStats(now = Date.now()): CarrierStats {
  return {
    bytesIn: 0,
    packetsIn: 0,
    dropsIn: 0,
    bytesOut: 0,
    packetsOut: 0,
    lastRead: now,
    clientId: null,
  };
}

/**
 * The server's side of a new carrier: reads the token and ClientID, asks `route` for that
 * client's endpoint, then pumps both ways until the carrier ends. Closes `conn`.
 */
export function serveCarrier(
  conn: Conn | ChunkLink,
  route: (id: ClientID) => CarrierEndpoint,
  options: CarrierOptions = {},
  stats: CarrierStats = carrierStats(),
): Promise<CarrierEnd> {
  const parser = new CarrierParser({ header: true, maxLength: options.maxLength });
  return pump(conn, parser, null, route, options, stats);
}

/**
 * The client's side of a new carrier: writes the token and `id`, then pumps both ways
 * until the carrier ends. Closes `conn`.
 */
export function runCarrier(
  conn: Conn,
  id: ClientID,
  endpoint: CarrierEndpoint,
  options: CarrierOptions = {},
  stats: CarrierStats = carrierStats(),
): Promise<CarrierEnd> {
  const parser = new CarrierParser({ header: false, maxLength: options.maxLength });
  stats.clientId = id;
  return pump(conn, parser, encodeCarrierHeader(id), () => endpoint, options, stats);
}

async function pump(
  carrier: Conn | ChunkLink,
  parser: CarrierParser,
  preamble: Uint8Array | null,
  route: (id: ClientID) => CarrierEndpoint,
  options: CarrierOptions,
  stats: CarrierStats,
): Promise<CarrierEnd> {
  const now = options.now ?? Date.now;
  const batchBytes = options.batchBytes ?? 64 * 1024;
  const ac = new AbortController();
  let end: CarrierEnd | null = null;
  const finish = (e: CarrierEnd) => {
    end ??= e;
    if (!ac.signal.aborted) ac.abort();
  };
  const outer = options.signal;
  const onOuterAbort = () => finish({ reason: "aborted", error: outer!.reason });
  if (outer?.aborted) onOuterAbort();
  outer?.addEventListener("abort", onOuterAbort, { once: true });

  const link = "readable" in carrier ? connLink(carrier) : carrier;
  ac.signal.addEventListener("abort", () => link.close(), { once: true });

  let endpoint: CarrierEndpoint | null = null;
  let writing: Promise<void> = Promise.resolve();
  const startWriting = (queue: SendQueue) => {
    writing = (async () => {
      if (preamble) await link.write(preamble);
      for (;;) {
        const batch = await queue.next(batchBytes, ac.signal, stats);
        // The queue never touches a batch it handed out, so the link may keep it.
        const wait = link.write(batch.data);
        if (wait) await wait;
        stats.packetsOut += batch.packets;
        stats.bytesOut += batch.data.length;
      }
    })().catch((error) => finish({ reason: "closed", error }));
  };

  try {
    if (parser.ready) {
      endpoint = route(stats.clientId!);
      startWriting(endpoint.queue);
    }
    while (!ac.signal.aborted) {
      const value = await link.read();
      if (value === null) {
        parser.end();
        finish({ reason: "eof" });
        break;
      }
      stats.bytesIn += value.length;
      stats.lastRead = now();
      parser.push(value);
      if (endpoint === null) {
        if (!parser.ready) continue;
        stats.clientId = parser.clientId;
        endpoint = route(parser.clientId!);
        startWriting(endpoint.queue);
      }
      for (let p = parser.next(); p !== null; p = parser.next()) {
        stats.packetsIn++;
        if (!endpoint.deliver(p)) stats.dropsIn++;
      }
    }
  } catch (error) {
    finish(
      error instanceof CarrierError ? { reason: error.fault, error } : { reason: "closed", error },
    );
  }
  finish({ reason: "closed" });
  await writing;
  outer?.removeEventListener("abort", onOuterAbort);
  endpoint?.queue.forget(stats);
  endpoint?.release();
  return end!;
}
