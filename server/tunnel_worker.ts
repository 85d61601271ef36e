/**
 * Worker entry point: one KCP state machine (num-turbotunnel instance) in its own thread,
 * so N instances use N cores (DESIGN.md "Scaling past one core"). The main thread owns
 * the WebSockets and routes each ClientID's packets here; this thread runs KCP, smux and
 * the ORPort connections, and posts the packets KCP sends back to the main thread.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { AsyncQueue, ClosedError, NamedAddr } from "../lib/net/mod.ts";
import type { Addr, Packet, PacketConn } from "../lib/net/mod.ts";
import { Logger } from "../lib/log/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import { ClientIPs } from "./client_ips.ts";
import { Metrics } from "./metrics.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";
import { TurbotunnelInstance } from "./turbotunnel.ts";
import type { FromWorker, ToWorker } from "./worker_tunnel.ts";

// Implementation constants.
/** Packets from the main thread waiting for KCP; beyond it they drop (KCP retransmits). */
const INCOMING_QUEUE = 4096;

/** The worker's PacketConn: reads what the main thread posts, posts what KCP writes. */
class PortPacketConn implements PacketConn {
  readonly localAddr = new NamedAddr("turbotunnel", "worker");
  readonly incoming = new AsyncQueue<Packet>(INCOMING_QUEUE);
  #batch: [string, Uint8Array][] = [];
  #scheduled = false;
  #addrs = new Map<string, Addr>();
  drops = 0;

  addr(hex: string): Addr {
    let a = this.#addrs.get(hex);
    if (!a) {
      a = new NamedAddr("clientid", hex);
      this.#addrs.set(hex, a);
    }
    return a;
  }

  forget(hex: string): void {
    this.#addrs.delete(hex);
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.incoming.shift(signal);
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.incoming.closed) return Promise.reject(new ClosedError("worker packet conn"));
    this.#batch.push([addr.toString(), data.slice()]);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return Promise.resolve();
  }

  #flush(): void {
    this.#scheduled = false;
    const items = this.#batch;
    this.#batch = [];
    const msg: FromWorker = { t: "out", items };
    self.postMessage(msg, items.map(([, d]) => d.buffer as ArrayBuffer));
  }

  close(): void {
    this.incoming.close(new ClosedError("worker packet conn"));
  }
}

let instance: TurbotunnelInstance | null = null;
const pconn = new PortPacketConn();
const clientIps = new ClientIPs();
const metrics = new Metrics();

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "init") {
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
  } else if (m.t === "in") {
    for (const [hex, data] of m.items) {
      if (!pconn.incoming.push({ data, addr: pconn.addr(hex) })) pconn.drops++;
    }
  } else if (m.t === "ip") {
    clientIps.set(m.id, m.ip);
  } else if (m.t === "close") {
    instance?.close();
    self.close();
  }
};
