/**
 * The main-thread end of a KCP Worker ({@link ./tunnel_worker.ts}). The main thread only
 * does WebSocket I/O and routing; packets cross between threads in batches, one
 * transferred ArrayBuffer per batch (never one message or one buffer per packet):
 * - to the worker, `u32 index | u16 length | packet` records, where the index names a
 *   ClientID (bound in the same message the first time it is used);
 * - from the worker, `u32 index | u32 packets | u32 length | encapsulated packets` records,
 *   one per client per batch, which become views in the client's outbox that the
 *   WebSocket writer sends as they are.
 *
 * @module
 */
import type { Addr } from "../lib/net/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import type { Counters, Gauges } from "./metrics.ts";
import { type Outbox, Outboxes } from "./outbox.ts";
import type { TunnelPort } from "./websocket.ts";

/** Main → worker messages. */
export type ToWorker =
  | {
    t: "init";
    target: OrTarget;
    srcaddr: string | null;
    clientIdleMs?: number;
    index: number;
    unsafeLogging: boolean;
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
  | { t: "close" };

/** Worker → main messages. */
export type FromWorker =
  | { t: "out"; buf: ArrayBuffer; length: number }
  | { t: "metrics"; counters: Counters; gauges: Gauges };

export interface WorkerTunnelOptions {
  target: OrTarget;
  srcaddr: string | null;
  clientIdleMs?: number;
  index: number;
  unsafeLogging: boolean;
}

// Implementation constants.
/** First size of a batch buffer; it doubles while a batch outgrows it. */
const BATCH_INITIAL = 16 * 1024;
/** Header of an incoming-packet record: u32 index, u16 length. */
const IN_HEADER = 6;
/** Header of an outgoing record: u32 index, u32 packets, u32 length. */
export const OUT_HEADER = 12;

export class WorkerTunnel implements TunnelPort {
  #worker: Worker;
  readonly outboxes: Outboxes;
  #indexOf = new Map<string, number>();
  #keyOf = new Map<number, string>();
  #nextIndex = 1;
  #bind: [number, string][] = [];
  #unbind: number[] = [];
  #buf = new Uint8Array(BATCH_INITIAL);
  #len = 0;
  #scheduled = false;
  /** The worker's latest counters and gauges (sessions, streams, ORPort errors). */
  counters: Partial<Counters> = {};
  gauges: Partial<Gauges> = {};

  constructor(opts: WorkerTunnelOptions) {
    this.outboxes = new Outboxes({
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
    this.#worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.t === "out") this.#receive(new Uint8Array(m.buf, 0, m.length));
      else {
        this.counters = m.counters;
        this.gauges = m.gauges;
      }
    };
    this.#post({ t: "init", ...opts });
  }

  #receive(b: Uint8Array): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    for (let o = 0; o + OUT_HEADER <= b.length;) {
      const index = dv.getUint32(o, true);
      const packets = dv.getUint32(o + 4, true);
      const len = dv.getUint32(o + 8, true);
      o += OUT_HEADER;
      const key = this.#keyOf.get(index);
      if (key !== undefined) this.outboxes.push(key, b.subarray(o, o + len), packets);
      o += len;
    }
  }

  #post(m: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(m, transfer);
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
    this.#post({ t: "in", buf, length, bind: this.#bind, unbind: this.#unbind }, [buf]);
    this.#buf = new Uint8Array(BATCH_INITIAL);
    this.#len = 0;
    this.#bind = [];
    this.#unbind = [];
  }

  queueIncoming(data: Uint8Array, addr: Addr): boolean {
    const key = addr.toString();
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

  attach(addr: Addr): Outbox {
    const key = addr.toString();
    this.#indexFor(key);
    return this.outboxes.attach(key);
  }

  release(addr: Addr, box: Outbox): void {
    this.outboxes.release(addr.toString(), box);
  }

  noteClientIp(id: string, ip: string): void {
    this.#post({ t: "ip", id, ip });
  }

  get outgoingDrops(): number {
    return this.outboxes.drops;
  }

  close(): void {
    this.#post({ t: "close" });
    this.outboxes.close();
    setTimeout(() => this.#worker.terminate(), 500);
  }
}
