import { AsyncQueue, ClosedError } from "../net/mod.ts";
import type { Addr, Packet, PacketConn } from "../net/mod.ts";
import { ClientMap, type ClientMapOptions, QUEUE_SIZE } from "./client_map.ts";

/**
 * The server's PacketConn for KCP (PROTOCOL.md §5): one receive queue shared by all
 * clients, and one send queue per client address (a {@link ClientMap}). The server's
 * per-connection code pushes decoded packets in with {@link queueIncoming} and drains
 * {@link nextOutgoing} into whichever proxy connection the client currently uses.
 * Every queue is bounded and drops when full; KCP retransmits.
 */
export class QueuePacketConn implements PacketConn {
  readonly localAddr: Addr;
  #recv: AsyncQueue<Packet>;
  #clients: ClientMap;
  #closed = false;
  /** Packets dropped because the receive queue was full. */
  incomingDrops = 0;
  /** Packets dropped because a client's send queue was full. */
  outgoingDrops = 0;

  constructor(localAddr: Addr, options: ClientMapOptions = {}) {
    this.localAddr = localAddr;
    this.#recv = new AsyncQueue(options.queueSize ?? QUEUE_SIZE);
    this.#clients = new ClientMap(options);
  }

  /** Hands a packet received from `addr` to KCP. False if dropped (full or closed). */
  queueIncoming(data: Uint8Array, addr: Addr): boolean {
    if (this.#closed) return false;
    const ok = this.#recv.push({ data, addr });
    if (!ok) this.incomingDrops++;
    return ok;
  }

  /** The current send queue for `addr` (created on demand; touching it keeps it alive). */
  outgoing(addr: Addr): AsyncQueue<Uint8Array> {
    return this.#clients.sendQueue(addr);
  }

  /**
   * Waits for the next packet to send to `addr`. Survives the client's queue expiring
   * while waiting; rejects with ClosedError once this conn is closed, or the signal's reason.
   */
  async nextOutgoing(addr: Addr, signal?: AbortSignal): Promise<Uint8Array> {
    for (;;) {
      if (this.#closed) throw new ClosedError("queue packet conn");
      try {
        return await this.#clients.sendQueue(addr).shift(signal);
      } catch (e) {
        if (signal?.aborted || this.#closed || !(e instanceof ClosedError)) throw e;
      }
    }
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.#recv.shift(signal);
  }

  /** Queues a copy of `data` for `addr` (KCP may reuse its buffer). Never waits. */
  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("queue packet conn"));
    if (!this.#clients.sendQueue(addr).push(data.slice())) this.outgoingDrops++;
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#recv.close(new ClosedError("queue packet conn"));
    this.#clients.close();
  }
}
