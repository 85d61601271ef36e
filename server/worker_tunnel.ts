/**
 * The main-thread end of a KCP Worker ({@link ./tunnel_worker.ts}). The main thread only
 * does carrier I/O and routing; packets cross between threads in batches, one transferred
 * ArrayBuffer per batch (never one message or one buffer per packet):
 * - to the worker, `u32 index | u16 length | packet` records, where the index names a
 *   ClientID (bound in the same message the first time it is used);
 * - from the worker, `u32 index | u32 packets | u32 length | encapsulated packets` records,
 *   one per client per batch, which become views in the client's send queue that a
 *   carrier sends as they are.
 *
 * Bytes in flight each way are capped ({@link MAX_IN_FLIGHT}): each side acknowledges the
 * batches it has handled, and a side with too much unacknowledged drops and counts
 * (KCP retransmits), so a stalled thread never grows the other without bound. A Worker
 * that dies takes the process down with one log line: tor restarts the transport, which
 * is better than a process that silently swallows a share of its clients.
 *
 * @module
 */
import type { KcpOptions } from "../lib/kcp/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import type { SmuxConfig } from "../lib/smux/mod.ts";
import { type CarrierEndpoint, type ClientID, SendQueues } from "../lib/turbotunnel/mod.ts";
import type { TunnelPort } from "./carriers.ts";
import type { Counters, Gauges } from "./metrics.ts";

/** Main → worker messages. */
export type ToWorker =
  | {
    t: "init";
    target: OrTarget;
    srcaddr: string | null;
    index: number;
    unsafeLogging: boolean;
    kcp?: KcpOptions;
    smux?: Partial<SmuxConfig>;
  }
  | {
    t: "in";
    buf: ArrayBuffer;
    length: number;
    /** New index → ClientID hex bindings, and indexes no longer in use. */
    bind: [number, string][];
    unbind: number[];
  }
  | { t: "ip"; id: string; ip: string }
  | { t: "path"; id: string; up: boolean }
  /** Bytes of "out" batches the main thread has handled. */
  | { t: "ack"; bytes: number }
  | { t: "close" };

/** Worker → main messages. */
export type FromWorker =
  | { t: "out"; buf: ArrayBuffer; length: number }
  /** Bytes of "in" batches the worker has handled. */
  | { t: "ack"; bytes: number }
  | { t: "log"; text: string }
  | {
    t: "metrics";
    counters: Partial<Counters>;
    gauges: Partial<Gauges>;
    incomingDrops: number;
    outgoingDrops: number;
  };

export interface WorkerTunnelOptions {
  target: OrTarget;
  srcaddr: string | null;
  index: number;
  log: Logger;
  kcp?: KcpOptions;
  smux?: Partial<SmuxConfig>;
  /** Unacknowledged bytes allowed in flight to the Worker. Default {@link MAX_IN_FLIGHT}. */
  maxInFlight?: number;
  /** Called when the Worker dies. Default: log it and exit the process with status 1. */
  onDeath?: (message: string) => void;
}

// Implementation constants.
/** First size of a batch buffer; it doubles while a batch outgrows it. */
const BATCH_INITIAL = 16 * 1024;
/** Header of an incoming-packet record: u32 index, u16 length. */
export const IN_HEADER = 6;
/** Header of an outgoing record: u32 index, u32 packets, u32 length. */
export const OUT_HEADER = 12;
/** Unacknowledged bytes allowed in flight to or from one Worker. */
export const MAX_IN_FLIGHT = 4 * 1024 * 1024;

export class WorkerTunnel implements TunnelPort {
  #worker: Worker;
  readonly queues: SendQueues;
  #indexOf = new Map<string, number>();
  #keyOf = new Map<number, string>();
  #nextIndex = 1;
  #bind: [number, string][] = [];
  #unbind: number[] = [];
  #buf = new Uint8Array(BATCH_INITIAL);
  #len = 0;
  #inFlight = 0;
  #maxInFlight: number;
  #scheduled = false;
  #closed = false;
  #workerIncomingDrops = 0;
  #workerOutgoingDrops = 0;
  /** The worker's latest counters and gauges (sessions, streams, ORPort errors). */
  counters: Partial<Counters> = {};
  gauges: Partial<Gauges> = {};

  constructor(opts: WorkerTunnelOptions) {
    this.#maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
    this.queues = new SendQueues({
      onPath: (id, up) => this.#post({ t: "path", id, up }),
      onExpire: (key) => {
        const index = this.#indexOf.get(key);
        if (index === undefined) return;
        this.#indexOf.delete(key);
        this.#keyOf.delete(index);
        this.#unbind.push(index);
        this.#schedule();
      },
    });
    this.#worker = new Worker(new URL("./tunnel_worker.ts", import.meta.url), { type: "module" });
    const onDeath = opts.onDeath ?? ((message: string) => {
      opts.log.log(message);
      Deno.exit(1);
    });
    this.#worker.onerror = (ev) => {
      ev.preventDefault();
      if (this.#closed) return;
      onDeath(
        `KCP worker ${opts.index} died: ${ev.message}; exiting so tor restarts the transport`,
      );
    };
    this.#worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.t === "out") {
        this.#receive(new Uint8Array(m.buf, 0, m.length));
        this.#post({ t: "ack", bytes: m.length });
      } else if (m.t === "ack") this.#inFlight -= m.bytes;
      else if (m.t === "log") opts.log.log(`worker ${opts.index}: ${m.text}`);
      else {
        this.counters = m.counters;
        this.gauges = m.gauges;
        this.#workerIncomingDrops = m.incomingDrops;
        this.#workerOutgoingDrops = m.outgoingDrops;
      }
    };
    this.#post({
      t: "init",
      target: opts.target,
      srcaddr: opts.srcaddr,
      index: opts.index,
      unsafeLogging: opts.log.unsafe,
      kcp: opts.kcp,
      smux: opts.smux,
    });
  }

  #receive(b: Uint8Array): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    for (let o = 0; o + OUT_HEADER <= b.length;) {
      const index = dv.getUint32(o, true);
      const packets = dv.getUint32(o + 4, true);
      const len = dv.getUint32(o + 8, true);
      o += OUT_HEADER;
      const key = this.#keyOf.get(index);
      if (key !== undefined) this.queues.push(key, b.subarray(o, o + len), packets);
      o += len;
    }
  }

  #post(m: ToWorker, transfer: Transferable[] = []): void {
    if (!this.#closed || m.t === "close") this.#worker.postMessage(m, transfer);
  }

  #indexFor(key: string): number {
    let index = this.#indexOf.get(key);
    if (index === undefined) {
      index = this.#nextIndex;
      this.#nextIndex = (this.#nextIndex % 0xfffffffe) + 1;
      this.#indexOf.set(key, index);
      this.#keyOf.set(index, key);
      this.#bind.push([index, key]);
    }
    return index;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const buf = this.#buf.buffer as ArrayBuffer;
    const length = this.#len;
    this.#inFlight += length;
    this.#post({ t: "in", buf, length, bind: this.#bind, unbind: this.#unbind }, [buf]);
    this.#buf = new Uint8Array(BATCH_INITIAL);
    this.#len = 0;
    this.#bind = [];
    this.#unbind = [];
  }

  /** Batches one packet from client `key` for the worker; false if dropped (too much in flight). */
  #queueIncoming(data: Uint8Array, key: string): boolean {
    if (this.#inFlight + this.#len + data.length > this.#maxInFlight) return false;
    const index = this.#indexFor(key);
    const need = this.#len + IN_HEADER + data.length;
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
    }
    const b = this.#buf;
    const o = this.#len;
    b[o] = index;
    b[o + 1] = index >>> 8;
    b[o + 2] = index >>> 16;
    b[o + 3] = index >>> 24;
    b[o + 4] = data.length;
    b[o + 5] = data.length >>> 8;
    b.set(data, o + IN_HEADER);
    this.#len = need;
    this.#schedule();
    return true;
  }

  endpoint(id: ClientID): CarrierEndpoint {
    const key = id.toString();
    this.#indexFor(key);
    const queue = this.queues.attach(key);
    return {
      deliver: (data) => this.#queueIncoming(data, key),
      queue,
      release: () => this.queues.release(key, queue),
    };
  }

  noteClientIp(id: string, ip: string): void {
    this.#post({ t: "ip", id, ip });
  }

  /**
   * Packets from clients dropped inside the worker (KCP's receive queue full). Drops at the
   * in-flight cap are refused deliveries, which the carriers count themselves.
   */
  get incomingDrops(): number {
    return this.#workerIncomingDrops;
  }

  /** Packets to clients dropped (full send queues here, or the worker's in-flight cap). */
  get outgoingDrops(): number {
    return this.queues.drops + this.#workerOutgoingDrops;
  }

  close(): void {
    this.#post({ t: "close" });
    this.#closed = true;
    this.queues.close();
    setTimeout(() => this.#worker.terminate(), 500);
  }
}
