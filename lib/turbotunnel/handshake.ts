import { EncapsulatedPacketConn } from "../encapsulation/mod.ts";
import { ClosedError } from "../net/mod.ts";
import type { Conn, PacketConn } from "../net/mod.ts";
import { CLIENT_ID_LENGTH, ClientID, TOKEN } from "./client_id.ts";
import type { QueuePacketConn } from "./queue_packet_conn.ts";

const HEADER_LENGTH = TOKEN.length + CLIENT_ID_LENGTH;

/**
 * Client side of a fresh proxy connection (PROTOCOL.md §1): queues the token and the
 * ClientID as one write, then returns a PacketConn carrying encapsulated packets over it.
 * It does not wait for the peer to read; a failed write surfaces on a later writeTo.
 */
export function openTurbotunnel(conn: Conn, id: ClientID): Promise<PacketConn> {
  const header = new Uint8Array(HEADER_LENGTH);
  header.set(TOKEN, 0);
  header.set(id.bytes, TOKEN.length);
  return Promise.resolve(
    new EncapsulatedPacketConn(conn, conn.remoteAddr, { preamble: header }),
  );
}

/** What {@link acceptTurbotunnel} returns. */
export interface AcceptedTurbotunnel {
  id: ClientID;
  /** Packets from and to that client over this one connection; remote address = the id. */
  packets: EncapsulatedPacketConn;
}

/**
 * Server side of a new connection: reads the 8-byte token (SyntaxError if it is wrong, as
 * soon as a wrong byte arrives) and the ClientID, then returns a PacketConn over the rest
 * of the stream. The caller closes the conn on error. An aborted `signal` cancels the read.
 */
export async function acceptTurbotunnel(
  conn: Conn,
  signal?: AbortSignal,
): Promise<AcceptedTurbotunnel> {
  const reader = conn.readable.getReader();
  const header = new Uint8Array(HEADER_LENGTH);
  let have = 0;
  let rest: Uint8Array | undefined;
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (have < HEADER_LENGTH) {
      signal?.throwIfAborted();
      const { value, done } = await reader.read();
      signal?.throwIfAborted();
      if (done) {
        throw new SyntaxError(
          `unexpected EOF: got ${have} of ${HEADER_LENGTH} Turbo Tunnel header bytes`,
        );
      }
      const take = Math.min(value.length, HEADER_LENGTH - have);
      header.set(value.subarray(0, take), have);
      for (let i = have; i < Math.min(have + take, TOKEN.length); i++) {
        if (header[i] !== TOKEN[i]) {
          throw new SyntaxError(
            `bad Turbo Tunnel token byte ${i}: 0x${header[i]!.toString(16).padStart(2, "0")}`,
          );
        }
      }
      have += take;
      if (take < value.length) rest = value.subarray(take);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
  const id = new ClientID(header.subarray(TOKEN.length));
  return { id, packets: new EncapsulatedPacketConn(conn, id, { initial: rest }) };
}

/**
 * Serves one accepted connection like the Snowflake server does: packets read from it go
 * into `queues` as coming from `id`; packets KCP sends to `id` go out on it. Resolves when
 * the connection fails or ends, or `queues` closes; then closes `packets`. Bad input only
 * ends this connection.
 */
export async function pumpTurbotunnel(
  packets: PacketConn,
  id: ClientID,
  queues: QueuePacketConn,
  signal?: AbortSignal,
): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort(new ClosedError("turbotunnel connection"));
  signal?.addEventListener("abort", stop, { once: true });
  if (signal?.aborted) stop();
  const inbound = (async () => {
    for (;;) {
      const p = await packets.readFrom(ac.signal);
      queues.queueIncoming(p.data, id);
    }
  })().catch(stop);
  const outbound = (async () => {
    for (;;) {
      const data = await queues.nextOutgoing(id, ac.signal);
      await packets.writeTo(data, id);
    }
  })().catch(stop);
  await Promise.all([inbound, outbound]);
  signal?.removeEventListener("abort", stop);
  packets.close();
}
