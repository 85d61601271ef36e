/**
 * The main-thread end of a KCP Worker ({@link ./tunnel_worker.ts}): batches each ClientID's
 * packets to the worker and queues what the worker sends back per client, where the
 * WebSocket writers drain it exactly as with an in-thread QueuePacketConn.
 *
 * @module
 */
import { type Addr, type AsyncQueue, NamedAddr } from "../lib/net/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import { QueuePacketConn } from "../lib/turbotunnel/mod.ts";
import type { Counters, Gauges } from "./metrics.ts";
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
  | { t: "in"; items: [string, Uint8Array][] }
  | { t: "ip"; id: string; ip: string }
  | { t: "close" };

/** Worker → main messages. */
export type FromWorker =
  | { t: "out"; items: [string, Uint8Array][] }
  | { t: "metrics"; counters: Counters; gauges: Gauges };

export interface WorkerTunnelOptions {
  target: OrTarget;
  srcaddr: string | null;
  clientIdleMs?: number;
  index: number;
  unsafeLogging: boolean;
}

export class WorkerTunnel implements TunnelPort {
  #worker: Worker;
  #out: QueuePacketConn;
  #batch: [string, Uint8Array][] = [];
  #scheduled = false;
  #addrs = new Map<string, Addr>();
  /** The worker's latest counters and gauges (sessions, streams, ORPort errors). */
  counters: Partial<Counters> = {};
  gauges: Partial<Gauges> = {};

  constructor(opts: WorkerTunnelOptions) {
    this.#out = new QueuePacketConn(new NamedAddr("turbotunnel", `worker-${opts.index}`));
    this.#worker = new Worker(new URL("./tunnel_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.t === "out") {
        for (const [hex, data] of m.items) void this.#out.writeTo(data, this.#addr(hex));
      } else {
        this.counters = m.counters;
        this.gauges = m.gauges;
      }
    };
    this.#post({ t: "init", ...opts });
  }

  #addr(hex: string): Addr {
    let a = this.#addrs.get(hex);
    if (!a) {
      a = new NamedAddr("clientid", hex);
      this.#addrs.set(hex, a);
      if (this.#addrs.size > 100_000) this.#addrs.clear(); // a cache, not state
    }
    return a;
  }

  #post(m: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(m, transfer);
  }

  queueIncoming(data: Uint8Array, addr: Addr): boolean {
    // Copy: `data` is a view into the WebSocket message, which may hold other packets.
    this.#batch.push([addr.toString(), data.slice()]);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        const items = this.#batch;
        this.#batch = [];
        this.#post({ t: "in", items }, items.map(([, d]) => d.buffer as ArrayBuffer));
      });
    }
    return true;
  }

  nextOutgoing(addr: Addr, signal?: AbortSignal): Promise<Uint8Array> {
    return this.#out.nextOutgoing(addr, signal);
  }

  outgoing(addr: Addr): AsyncQueue<Uint8Array> {
    return this.#out.outgoing(addr);
  }

  noteClientIp(id: string, ip: string): void {
    this.#post({ t: "ip", id, ip });
  }

  get outgoingDrops(): number {
    return this.#out.outgoingDrops;
  }

  close(): void {
    this.#post({ t: "close" });
    this.#out.close();
    setTimeout(() => this.#worker.terminate(), 500);
  }
}
