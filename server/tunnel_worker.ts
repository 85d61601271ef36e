/**
 * Worker entry point: one KCP state machine (num-turbotunnel instance) in its own thread,
 * so N instances use N cores (docs/ARCHITECTURE.md "Scaling past one core"). The main
 * thread owns the carriers and routes each ClientID's packets here in batches; this
 * thread runs KCP, smux and the ORPort connections, encapsulates what KCP sends and posts
 * it back in batches (formats and the in-flight cap in {@link ./worker_tunnel.ts}).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type Addr, NamedAddr } from "../lib/net/mod.ts";
import { encodePacketInto } from "../lib/encapsulation/mod.ts";
import { ClientIPs } from "./client_ips.ts";
import { Metrics } from "./metrics.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";
import { TurbotunnelInstance } from "./turbotunnel.ts";
import {
  type FromWorker,
  IN_HEADER,
  MAX_IN_FLIGHT,
  OUT_HEADER,
  type ToWorker,
} from "./worker_tunnel.ts";

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);

/** ClientID hex → the index the main thread uses for it, and the Addr KCP sees. */
const indexOf = new Map<string, number>();
const addrOf = new Map<number, Addr>();

/** What KCP writes, grouped by client and posted to the main thread at the end of each task. */
const pending = new Map<number, Uint8Array[]>();
let pendingBytes = 0;
let scheduled = false;
/** Bytes of "out" batches the main thread has not acknowledged yet. */
let inFlight = 0;
/** Packets for clients the main thread no longer knows, or beyond the in-flight cap. */
let outgoingDrops = 0;

function send(data: Uint8Array, addr: Addr): void {
  const index = indexOf.get(addr.toString());
  if (index === undefined || inFlight + pendingBytes + data.length > MAX_IN_FLIGHT) {
    outgoingDrops++;
    return;
  }
  // KCP hands over its packet (a view it never reuses); it is copied at the flush.
  let list = pending.get(index);
  if (list === undefined) {
    list = [];
    pending.set(index, list);
  }
  list.push(data);
  pendingBytes += data.length + 3;
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flush);
  }
}

function flush(): void {
  scheduled = false;
  const out = new Uint8Array(pendingBytes + pending.size * OUT_HEADER);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const [index, list] of pending) {
    const start = o + OUT_HEADER;
    let p = start;
    for (const d of list) p += encodePacketInto(out, p, d);
    dv.setUint32(o, index, true);
    dv.setUint32(o + 4, list.length, true);
    dv.setUint32(o + 8, p - start, true);
    o = p;
  }
  pending.clear();
  pendingBytes = 0;
  inFlight += o;
  post({ t: "out", buf: out.buffer, length: o }, [out.buffer]);
}

/** Log lines go to the main thread's logger (its sink, its scrubbing). */
const log = {
  unsafe: false,
  log: (...parts: unknown[]) => post({ t: "log", text: parts.map(String).join(" ") }),
};

let instance: TurbotunnelInstance | null = null;
const clientIps = new ClientIPs();
const metrics = new Metrics();

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "in") {
    for (const [index, hex] of m.bind) {
      indexOf.set(hex, index);
      addrOf.set(index, new NamedAddr("clientid", hex));
    }
    for (const index of m.unbind) {
      const addr = addrOf.get(index);
      addrOf.delete(index);
      if (addr && indexOf.get(addr.toString()) === index) {
        indexOf.delete(addr.toString());
        instance?.forgetPath(addr.toString());
      }
    }
    post({ t: "ack", bytes: m.length });
    if (instance === null) return;
    const b = new Uint8Array(m.buf, 0, m.length);
    for (let o = 0; o + IN_HEADER <= b.length;) {
      const index = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
      const len = b[o + 4]! | (b[o + 5]! << 8);
      o += IN_HEADER;
      const addr = addrOf.get(index);
      if (addr !== undefined) instance.input(b.subarray(o, o + len), addr);
      o += len;
    }
  } else if (m.t === "ack") {
    inFlight -= m.bytes;
  } else if (m.t === "path") {
    instance?.setPath(m.id, m.up);
  } else if (m.t === "init") {
    log.unsafe = m.unsafeLogging;
    instance = new TurbotunnelInstance({
      target: m.target,
      clientIps,
      metrics,
      log,
      connect: m.srcaddr ? srcAddrConnect(parseIPCIDR(m.srcaddr)) : denoConnect,
      index: m.index,
      kcp: m.kcp,
      smux: m.smux,
      send,
    });
    setInterval(() => {
      post({
        t: "metrics",
        counters: metrics.counters,
        gauges: metrics.gauges,
        incomingDrops: instance?.incomingDrops ?? 0,
        outgoingDrops,
      });
    }, 1000);
  } else if (m.t === "ip") {
    clientIps.set(m.id, m.ip);
  } else if (m.t === "close") {
    instance?.close();
    self.close();
  }
};
