/**
 * `pytunnel attack replay`: a UDP relay placed between a client and the
 * server (the client's config points at `--listen`). It forwards both ways,
 * captures data packets from the client, and re-sends each captured packet to
 * the server twice more: once verbatim (a replay) and once with one bit of
 * its authentication tag flipped (a tampered copy). Both come from the relay's
 * own upstream socket, i.e. from the same source the server already knows.
 *
 * @module
 */

/** Options of {@link runReplayRelay}. */
export interface ReplayOptions {
  listen: { hostname: string; port: number };
  target: { hostname: string; port: number };
  /** How many data packets to capture and replay. */
  count: number;
  /** Data packets to let through untouched before capturing (lets the session settle). */
  skip?: number;
  /** Recognises a transport data packet of the protocol. */
  isData: (packet: Uint8Array) => boolean;
  /** Called once all captured packets were re-sent. */
  onDone?: (result: ReplayResult) => void;
  /** Called with progress lines. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** What the relay injected. */
export interface ReplayResult {
  replayed: number;
  tampered: number;
  forwardedUp: number;
  forwardedDown: number;
}

/** Flips the low bit of the last byte (authenticated ciphertext, or the tag of a keepalive). */
export function tamper(packet: Uint8Array): Uint8Array {
  const copy = packet.slice();
  copy[copy.length - 1]! ^= 1;
  return copy;
}

/** Runs the relay until the signal aborts. */
export async function runReplayRelay(options: ReplayOptions): Promise<ReplayResult> {
  const down = Deno.listenDatagram({ transport: "udp", ...options.listen });
  const up = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const target: Deno.NetAddr = { transport: "udp", ...options.target };
  const result: ReplayResult = { replayed: 0, tampered: 0, forwardedUp: 0, forwardedDown: 0 };
  let client: Deno.Addr | undefined;
  let skip = options.skip ?? 0;
  const log = options.log ?? (() => {});
  const close = () => {
    try {
      down.close();
    } catch { /* closed */ }
    try {
      up.close();
    } catch { /* closed */ }
  };
  options.signal?.addEventListener("abort", close, { once: true });

  const upward = async () => {
    for await (const [data, from] of down) {
      client = from;
      await up.send(data, target).catch(() => {});
      result.forwardedUp++;
      if (result.replayed >= options.count || !options.isData(data)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      // Send after the original, so the server has accepted its counter first.
      await up.send(data, target).catch(() => {});
      result.replayed++;
      await up.send(tamper(data), target).catch(() => {});
      result.tampered++;
      log(`replayed and tampered data packet ${result.replayed}/${options.count}`);
      if (result.replayed === options.count) options.onDone?.({ ...result });
    }
  };
  const downward = async () => {
    for await (const [data] of up) {
      if (!client) continue;
      await down.send(data, client).catch(() => {});
      result.forwardedDown++;
    }
  };
  await Promise.allSettled([upward(), downward()]);
  close();
  return result;
}
