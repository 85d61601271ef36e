/**
 * The server's PacketConn for KCP (docs/PROTOCOL.md §5): one bounded receive
 * queue shared by all clients, fed by the carriers, and one {@link SendQueue} per
 * ClientID, drained by them. What KCP writes is encapsulated at once into a shared slab
 * and queued as a view, so a carrier sends a whole KCP flush as one chunk without copying.
 *
 * @module
 */
import { encodePacketInto } from "../encapsulation/mod.ts";
import { type Addr, AsyncQueue, ClosedError, type Packet, type PacketConn } from "../net/mod.ts";
import type { CarrierEndpoint } from "./carrier.ts";
import type { ClientID } from "./client_id.ts";
import { SendQueues, type SendQueuesOptions } from "./send_queue.ts";

// Implementation constants.
/** Bytes of encapsulated packets packed per slab. */
const SLAB_BYTES = 64 * 1024;
/**
 * Default depth of the receive queue. Go's is 512; one 64 KiB message from a busy
 * carrier is ~48 packets and the listener drains the queue between messages.
 */
const RECEIVE_QUEUE = 1024;

/** Options for {@link QueuePacketConn}. */
export interface QueuePacketConnOptions extends SendQueuesOptions {
  /** Depth of the receive queue; a full queue drops (KCP retransmits). Default 1024. */
  receiveQueue?: number;
}

export class QueuePacketConn implements PacketConn {
  readonly localAddr: Addr;
  readonly queues: SendQueues;
  #recv: AsyncQueue<Packet>;
  #slab = new Uint8Array(0);
  #pos = 0;
  #closed = false;
  /** Packets dropped because the receive queue was full. */
  incomingDrops = 0;

  constructor(localAddr: Addr, options: QueuePacketConnOptions = {}) {
    this.localAddr = localAddr;
    this.queues = new SendQueues(options);
    this.#recv = new AsyncQueue(options.receiveQueue ?? RECEIVE_QUEUE);
  }

  /** Hands a packet from `addr` to KCP. False if dropped (full or closed). */
  deliver(data: Uint8Array, addr: Addr): boolean {
    if (this.#closed) return false;
    if (this.#recv.push({ data, addr })) return true;
    this.incomingDrops++;
    return false;
  }

  /** A carrier of `id`: its packets come here, and it drains `id`'s send queue. */
  endpoint(id: ClientID): CarrierEndpoint {
    const key = id.toString();
    const queue = this.queues.attach(key);
    return {
      deliver: (data) => {
        queue.acknowledged(data);
        return this.deliver(data, id);
      },
      queue,
      release: () => this.queues.release(key, queue),
    };
  }

  /** Packets KCP wanted to send that a full send queue dropped. */
  get outgoingDrops(): number {
    return this.queues.drops;
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.#recv.shift(signal);
  }

  /** Queues `data` for `addr`. Never waits. */
  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("queue packet conn"));
    this.#queue(data, addr);
    return Promise.resolve();
  }

  #queue(data: Uint8Array, addr: Addr): void {
    const need = data.length + 3;
    if (this.#slab.length - this.#pos < need) {
      this.#slab = new Uint8Array(Math.max(SLAB_BYTES, need));
      this.#pos = 0;
    }
    const start = this.#pos;
    this.#pos += encodePacketInto(this.#slab, start, data);
    this.queues.push(addr.toString(), this.#slab.subarray(start, this.#pos), 1);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.queues.close();
    this.#recv.close(new ClosedError("queue packet conn"));
  }
}
