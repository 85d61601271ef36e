/**
 * A direct link between two server Workers (num-turbotunnel > 1, docs/ARCHITECTURE.md
 * "Scaling past one core"), over a MessagePort each got at start-up. The kernel spreads
 * WebSocket connections over the Workers; a ClientID's KCP instance lives in one of them,
 * its owner. A carrier that lands on another Worker is served there, and its packets cross
 * this link: the main thread never sees them.
 *
 * Each end is both a carrier side (carriers here of clients the peer owns) and an owner side
 * (the peer's carriers of clients owned here). What is due to the peer goes out as one
 * message per task ({@link PeerMessage}); packets travel in one transferred ArrayBuffer per
 * message and direction, never one message per packet.
 *
 * Bounds: a carrier side keeps at most `maxInFlight` bytes of packets unacknowledged and
 * refuses (drops, and the carrier counts it) beyond. The owner takes a client's send queue
 * for a remote carrier only while less than `window` bytes it sent wait there unsent, so a
 * slow WebSocket leaves the bytes in the owner's bounded send queue, as a local one does.
 *
 * @module
 */
import { type Batch, type CarrierEndpoint, ClientID, SendQueue } from "../lib/turbotunnel/mod.ts";

/** One message between two Workers. Processed in this order: open, in, out, close. */
export interface PeerMessage {
  /** Carriers started on the sender for clients the receiver owns: [carrier, ClientID hex, client_ip or ""]. */
  open: [number, string, string][];
  /** Packets from the sender's carriers: `u32 carrier | u16 length | packet` records. */
  in: ArrayBuffer | null;
  inLength: number;
  /** Batches for the receiver's carriers: `u32 carrier | u32 packets | u32 length | data` records. */
  out: ArrayBuffer | null;
  outLength: number;
  /** Carriers on the sender that ended. */
  close: number[];
  /** Bytes of the receiver's `in` records the sender has handled. */
  inAck: number;
  /** [carrier, bytes] pairs, flat: bytes the sender's carriers took of the receiver's `out`. */
  credit: number[];
}

/** The owner's side of this Worker: the endpoint of a client it owns. */
export interface LocalTunnel {
  endpoint(id: ClientID, clientIp: string | null): CarrierEndpoint;
}

export interface PeerLinkOptions {
  /** Packets are batched for a remote carrier into chunks of up to this many bytes. */
  batchBytes: number;
  /** Unacknowledged bytes of packets allowed in flight to the peer. Default 4 MiB. */
  maxInFlight?: number;
  /** Bytes sent to one remote carrier that may wait there unsent. Default 256 KiB. */
  window?: number;
}

// Implementation constants.
const IN_HEADER = 6;
const OUT_HEADER = 12;
const DEFAULT_MAX_IN_FLIGHT = 4 * 1024 * 1024;
const DEFAULT_WINDOW = 256 * 1024;
const INITIAL_RECORDS = 16 * 1024;

/** A growable buffer of records, handed over (transferred) whole. */
class Records {
  #buf = new Uint8Array(0);
  length = 0;

  /** Room for `n` more bytes; returns the offset to write at. */
  reserve(n: number): number {
    const need = this.length + n;
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2, INITIAL_RECORDS));
      bigger.set(this.#buf.subarray(0, this.length));
      this.#buf = bigger;
    }
    const at = this.length;
    this.length = need;
    return at;
  }

  get bytes(): Uint8Array {
    return this.#buf;
  }

  /** The buffer and its length, leaving this empty; null when empty. */
  take(): { buf: ArrayBuffer; length: number } | null {
    if (this.length === 0) return null;
    const r = { buf: this.#buf.buffer as ArrayBuffer, length: this.length };
    this.#buf = new Uint8Array(0);
    this.length = 0;
    return r;
  }
}

/** A remote carrier's queue here: what the owner sent, credited back as the carrier takes it. */
class CreditQueue extends SendQueue {
  #onTaken: (bytes: number) => void;

  constructor(onTaken: (bytes: number) => void) {
    super(Date.now());
    this.#onTaken = onTaken;
    this.attach(Date.now());
  }

  override take(maxBytes: number): Batch | undefined {
    const b = super.take(maxBytes);
    if (b) this.#onTaken(b.data.length);
    return b;
  }
}

/** The peer's carrier of a client owned here. */
interface Served {
  endpoint: CarrierEndpoint;
  closed: boolean;
  /** Bytes sent to the carrier and not yet credited. */
  unsent: number;
  wake: (() => void) | null;
  abort: AbortController;
}

export class PeerLink {
  #port: MessagePort;
  #local: LocalTunnel;
  #batchBytes: number;
  #maxInFlight: number;
  #window: number;
  /** Carriers here of the peer's clients, by carrier number. */
  #carriers = new Map<number, CreditQueue>();
  #nextCarrier = 1;
  /** The peer's carriers of clients owned here, by the peer's carrier number. */
  #served = new Map<number, Served>();
  #inFlight = 0;
  #pending: Omit<PeerMessage, "in" | "inLength" | "out" | "outLength"> = PeerLink.#empty();
  #in = new Records();
  #out = new Records();
  #scheduled = false;
  #closed = false;
  /** Packets from the peer's carriers that KCP's receive queue here refused. */
  incomingDrops = 0;
  /** Packets from the owner that a carrier here could not queue (full). */
  outgoingDrops = 0;
  /** Packets of carriers here that crossed to the owner or came from it. */
  forwardedPackets = 0;

  constructor(port: MessagePort, local: LocalTunnel, opts: PeerLinkOptions) {
    this.#port = port;
    this.#local = local;
    this.#batchBytes = opts.batchBytes;
    this.#maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#window = opts.window ?? DEFAULT_WINDOW;
    port.onmessage = (ev: MessageEvent<PeerMessage>) => this.#receive(ev.data);
  }

  static #empty(): Omit<PeerMessage, "in" | "inLength" | "out" | "outLength"> {
    return { open: [], close: [], inAck: 0, credit: [] };
  }

  /** A carrier here of `id`, owned by the peer: its packets go there, its batches come here. */
  endpoint(id: ClientID, clientIp: string | null): CarrierEndpoint {
    const carrier = this.#nextCarrier;
    this.#nextCarrier = (this.#nextCarrier % 0xfffffffe) + 1;
    const queue = new CreditQueue((bytes) => {
      this.#pending.credit.push(carrier, bytes);
      this.#schedule();
    });
    this.#carriers.set(carrier, queue);
    this.#pending.open.push([carrier, id.hex, clientIp ?? ""]);
    this.#schedule();
    return {
      queue,
      deliver: (data) => this.#deliver(carrier, data),
      release: () => {
        if (!this.#carriers.delete(carrier)) return;
        queue.close();
        this.#pending.close.push(carrier);
        this.#schedule();
      },
    };
  }

  #deliver(carrier: number, data: Uint8Array): boolean {
    if (this.#closed || this.#inFlight + this.#in.length + data.length > this.#maxInFlight) {
      return false;
    }
    const o = this.#in.reserve(IN_HEADER + data.length);
    const b = this.#in.bytes;
    b[o] = carrier;
    b[o + 1] = carrier >>> 8;
    b[o + 2] = carrier >>> 16;
    b[o + 3] = carrier >>> 24;
    b[o + 4] = data.length;
    b[o + 5] = data.length >>> 8;
    b.set(data, o + IN_HEADER);
    this.forwardedPackets++;
    this.#schedule();
    return true;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    const inn = this.#in.take();
    const out = this.#out.take();
    const transfer: ArrayBuffer[] = [];
    if (inn) {
      this.#inFlight += inn.length;
      transfer.push(inn.buf);
    }
    if (out) transfer.push(out.buf);
    const m: PeerMessage = {
      ...this.#pending,
      in: inn?.buf ?? null,
      inLength: inn?.length ?? 0,
      out: out?.buf ?? null,
      outLength: out?.length ?? 0,
    };
    this.#pending = PeerLink.#empty();
    this.#port.postMessage(m, transfer);
  }

  #receive(m: PeerMessage): void {
    if (this.#closed) return;
    for (const [carrier, hex, ip] of m.open) this.#open(carrier, hex, ip);
    if (m.in) {
      const b = new Uint8Array(m.in, 0, m.inLength);
      for (let o = 0; o + IN_HEADER <= b.length;) {
        const carrier = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
        const len = b[o + 4]! | (b[o + 5]! << 8);
        o += IN_HEADER;
        const s = this.#served.get(carrier);
        if (s && !s.endpoint.deliver(b.subarray(o, o + len))) this.incomingDrops++;
        o += len;
      }
      this.#pending.inAck += m.inLength;
      this.#schedule();
    }
    if (m.out) {
      const b = new Uint8Array(m.out, 0, m.outLength);
      const dv = new DataView(m.out, 0, m.outLength);
      const now = Date.now();
      for (let o = 0; o + OUT_HEADER <= b.length;) {
        const carrier = dv.getUint32(o, true);
        const packets = dv.getUint32(o + 4, true);
        const len = dv.getUint32(o + 8, true);
        o += OUT_HEADER;
        const queue = this.#carriers.get(carrier);
        if (queue === undefined) { /* ended here; the owner forgot it on close */ }
        else if (queue.push(b.subarray(o, o + len), packets, now)) this.forwardedPackets += packets;
        else {
          this.outgoingDrops += packets;
          this.#pending.credit.push(carrier, len);
          this.#schedule();
        }
        o += len;
      }
    }
    for (const carrier of m.close) this.#end(carrier);
    this.#inFlight -= m.inAck;
    for (let i = 0; i + 1 < m.credit.length; i += 2) {
      const s = this.#served.get(m.credit[i]!);
      if (s === undefined) continue;
      s.unsent -= m.credit[i + 1]!;
      if (s.unsent < this.#window) s.wake?.();
    }
  }

  #open(carrier: number, hex: string, ip: string): void {
    let id: ClientID;
    try {
      id = ClientID.fromHex(hex);
    } catch {
      return;
    }
    const s: Served = {
      endpoint: this.#local.endpoint(id, ip === "" ? null : ip),
      closed: false,
      unsent: 0,
      wake: null,
      abort: new AbortController(),
    };
    this.#served.set(carrier, s);
    void this.#drain(carrier, s);
  }

  /** Sends a remote carrier what its client's send queue holds, while its window allows. */
  async #drain(carrier: number, s: Served): Promise<void> {
    try {
      for (;;) {
        while (s.unsent >= this.#window && !s.closed) {
          await new Promise<void>((resolve) => (s.wake = resolve));
          s.wake = null;
        }
        if (s.closed) return;
        const batch = await s.endpoint.queue.next(this.#batchBytes, s.abort.signal, s);
        s.unsent += batch.data.length;
        const o = this.#out.reserve(OUT_HEADER + batch.data.length);
        const b = this.#out.bytes;
        const dv = new DataView(b.buffer, o, OUT_HEADER);
        dv.setUint32(0, carrier, true);
        dv.setUint32(4, batch.packets, true);
        dv.setUint32(8, batch.data.length, true);
        b.set(batch.data, o + OUT_HEADER);
        this.#schedule();
      }
    } catch { /* the carrier ended or the queue closed */ }
  }

  #end(carrier: number): void {
    const s = this.#served.get(carrier);
    if (s === undefined) return;
    this.#served.delete(carrier);
    s.closed = true;
    s.abort.abort();
    s.wake?.();
    s.endpoint.queue.forget(s);
    s.endpoint.release();
  }

  close(): void {
    for (const carrier of [...this.#served.keys()]) this.#end(carrier);
    for (const q of this.#carriers.values()) q.close();
    this.#carriers.clear();
    this.#closed = true;
    this.#port.close();
  }
}
