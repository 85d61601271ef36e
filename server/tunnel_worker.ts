/**
 * Worker entry point: one KCP state machine (num-turbotunnel instance) in its own thread,
 * so N instances use N cores (DESIGN.md "Scaling past one core"). The main thread owns
 * the WebSockets and routes each ClientID's packets here in batches; this thread runs KCP,
 * smux and the ORPort connections, encapsulates what KCP sends and posts it back in
 * batches (formats in {@link ./worker_tunnel.ts}).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type Addr, ClosedError, NamedAddr, type Packet, type PacketConn } from "../lib/net/mod.ts";
import { Logger } from "../lib/log/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import { ClientIPs } from "./client_ips.ts";
import { Metrics } from "./metrics.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";
import { writeDataPrefix } from "./outbox.ts";
import { TurbotunnelInstance } from "./turbotunnel.ts";
import { type FromWorker, OUT_HEADER, type ToWorker } from "./worker_tunnel.ts";

/**
 * The worker's PacketConn: what KCP writes is grouped by client and posted to the main
 * thread at the end of each task. Incoming packets bypass it (see the "in" handler).
 */
class PortPacketConn implements PacketConn {
  readonly localAddr = new NamedAddr("turbotunnel", "worker");
  #pending = new Map<number, Uint8Array[]>();
  #pendingBytes = 0;
  #scheduled = false;
  #closed = false;
  #closeWaiters: ((e: Error) => void)[] = [];
  /** ClientID hex → the index the main thread uses for it, and the Addr KCP sees. */
  readonly indexOf = new Map<string, number>();
  readonly addrOf = new Map<number, Addr>();
  /** Packets for clients the main thread no longer knows. */
  drops = 0;

  bind(index: number, hex: string): void {
    this.indexOf.set(hex, index);
    this.addrOf.set(index, new NamedAddr("clientid", hex));
  }

  unbind(index: number): void {
    const addr = this.addrOf.get(index);
    this.addrOf.delete(index);
    if (addr && this.indexOf.get(addr.toString()) === index) this.indexOf.delete(addr.toString());
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    if (this.#closed) return Promise.reject(new ClosedError("worker packet conn"));
    return new Promise((_, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      this.#closeWaiters.push(reject);
    });
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("worker packet conn"));
    const index = this.indexOf.get(addr.toString());
    if (index === undefined) {
      this.drops++;
      return Promise.resolve();
    }
    // KCP hands over its packet (a view it never reuses); it is copied at the flush.
    let list = this.#pending.get(index);
    if (list === undefined) {
      list = [];
      this.#pending.set(index, list);
    }
    list.push(data);
    this.#pendingBytes += data.length + 3;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return Promise.resolve();
  }

  #flush(): void {
    this.#scheduled = false;
    const size = this.#pendingBytes + this.#pending.size * OUT_HEADER;
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    let o = 0;
    for (const [index, list] of this.#pending) {
      const start = o + OUT_HEADER;
      let p = start;
      for (const d of list) {
        p += writeDataPrefix(out, p, d.length);
        out.set(d, p);
        p += d.length;
      }
      dv.setUint32(o, index, true);
      dv.setUint32(o + 4, list.length, true);
      dv.setUint32(o + 8, p - start, true);
      o = p;
    }
    this.#pending.clear();
    this.#pendingBytes = 0;
    const msg: FromWorker = { t: "out", buf: out.buffer, length: o };
    self.postMessage(msg, [out.buffer]);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const e = new ClosedError("worker packet conn");
    for (const w of this.#closeWaiters.splice(0)) w(e);
  }
}

let instance: TurbotunnelInstance | null = null;
const pconn = new PortPacketConn();
const clientIps = new ClientIPs();
const metrics = new Metrics();

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "in") {
    for (const [index, hex] of m.bind) pconn.bind(index, hex);
    for (const index of m.unbind) pconn.unbind(index);
    if (instance === null) return;
    const b = new Uint8Array(m.buf, 0, m.length);
    for (let o = 0; o + 6 <= b.length;) {
      const index = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
      const len = b[o + 4]! | (b[o + 5]! << 8);
      o += 6;
      const addr = pconn.addrOf.get(index);
      if (addr !== undefined) instance.input(b.subarray(o, o + len), addr);
      o += len;
    }
  } else if (m.t === "init") {
    const target: OrTarget = m.target;
    instance = new TurbotunnelInstance({
      target,
      clientIps,
      metrics,
      log: new Logger({ unsafe: m.unsafeLogging }),
      connect: m.srcaddr ? srcAddrConnect(parseIPCIDR(m.srcaddr)) : denoConnect,
      clientIdleMs: m.clientIdleMs,
      index: m.index,
      pconn,
    });
    setInterval(() => {
      const s: FromWorker = { t: "metrics", counters: metrics.counters, gauges: metrics.gauges };
      self.postMessage(s);
    }, 1000);
  } else if (m.t === "ip") {
    clientIps.set(m.id, m.ip);
  } else if (m.t === "close") {
    instance?.close();
    pconn.close();
    self.close();
  }
};
