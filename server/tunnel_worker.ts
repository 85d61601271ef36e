/**
 * Worker entry point (num-turbotunnel > 1, docs/ARCHITECTURE.md "Scaling past one core"):
 * one KCP instance and a share of the carriers in their own thread, so N Workers use N
 * cores. Every Worker listens on the server's port (SO_REUSEPORT: the kernel spreads the
 * WebSocket connections over them) and serves its connections whole: WebSocket I/O, the
 * carrier pump, and for the clients it owns KCP, smux and the ORPort connections. A carrier
 * whose client another Worker owns crosses to it over a {@link PeerLink}. The main thread
 * gets log lines and metrics only (messages in {@link ./worker_tunnel.ts}).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { WsListener } from "../lib/net/ws_listener.ts";
import { ClientID } from "../lib/turbotunnel/mod.ts";
import { Carriers } from "./carriers.ts";
import { ClientIPs } from "./client_ips.ts";
import { Metrics } from "./metrics.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";
import { type LocalTunnel, PeerLink } from "./peer_link.ts";
import { OwnerTable } from "./route.ts";
import { TurbotunnelInstance } from "./turbotunnel.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./worker_tunnel.ts";

const post = (m: FromWorker) => self.postMessage(m);

/** Log lines go to the main thread's logger (its sink, its scrubbing). */
const log = {
  unsafe: false,
  log: (...parts: unknown[]) => post({ t: "log", text: parts.map(String).join(" ") }),
};

class TunnelWorker {
  #metrics = new Metrics();
  #clientIps = new ClientIPs();
  #instance: TurbotunnelInstance;
  #links: (PeerLink | null)[];
  #carriers: Carriers;
  #listeners: WsListener[] = [];
  #timer: ReturnType<typeof setInterval>;

  constructor(m: WorkerInit) {
    log.unsafe = m.unsafeLogging;
    const owners = new OwnerTable(m.owners, {
      index: m.index,
      workers: m.peers.length,
      key: m.hmacKey,
    });
    this.#instance = new TurbotunnelInstance({
      target: m.target,
      clientIps: this.#clientIps,
      metrics: this.#metrics,
      log,
      connect: m.srcaddr ? srcAddrConnect(parseIPCIDR(m.srcaddr)) : denoConnect,
      index: m.index,
      kcp: m.kcp,
      smux: m.smux,
      onGone: (key) => owners.gone(ClientID.fromHex(key)),
    });
    const local: LocalTunnel = {
      endpoint: (id, clientIp) => {
        if (clientIp) this.#clientIps.set(id.hex, clientIp);
        return this.#instance.endpoint(id);
      },
    };
    const routedHere: LocalTunnel = {
      endpoint: (id, clientIp) => {
        owners.opened(id);
        return local.endpoint(id, clientIp);
      },
    };
    this.#links = m.peers.map((port) =>
      port && new PeerLink(port, routedHere, { batchBytes: m.limits.batchBytes })
    );
    this.#carriers = new Carriers({
      route: (id, clientIp) => {
        const owner = owners.route(id);
        return owner === m.index
          ? local.endpoint(id, clientIp)
          : this.#links[owner]!.endpoint(id, clientIp);
      },
      metrics: this.#metrics,
      log,
      limits: m.limits,
    });
    this.#timer = setInterval(() => this.#report(), 1000);
  }

  async listen(hostname: string, port: number, tls?: { cert: string; key: string }) {
    try {
      const l = await this.#carriers.listen({ hostname, port }, tls, true);
      this.#listeners.push(l);
      post({ t: "listening", port: l.addr.port });
    } catch (e) {
      post({ t: "listenError", message: (e as Error).message });
    }
  }

  reloadTls(cert: string, key: string): void {
    for (const l of this.#listeners) l.reloadTls(cert, key);
  }

  #report(): void {
    this.#carriers.foldLive();
    const counters = { ...this.#metrics.counters };
    // Local carriers count their own refused packets; the links count the remote ones'.
    counters.incomingDrops += this.#links.reduce((n, l) => n + (l?.incomingDrops ?? 0), 0);
    counters.outgoingDrops += this.#instance.outgoingDrops +
      this.#links.reduce((n, l) => n + (l?.outgoingDrops ?? 0), 0);
    counters.forwardedPackets += this.#links.reduce((n, l) => n + (l?.forwardedPackets ?? 0), 0);
    const gauges = { ...this.#metrics.gauges, queuedBytes: this.#instance.pconn.queues.bytes };
    post({ t: "metrics", counters, gauges });
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#carriers.close();
    for (const l of this.#links) l?.close();
    this.#instance.close();
    this.#clientIps.close();
    await Promise.allSettled(this.#listeners.map((l) => l.close()));
  }
}

let worker: TunnelWorker | null = null;

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "init") worker = new TunnelWorker(m);
  else if (m.t === "listen") await worker?.listen(m.hostname, m.port, m.tls);
  else if (m.t === "tls") worker?.reloadTls(m.cert, m.key);
  else if (m.t === "close") {
    await worker?.close();
    self.close();
  }
};
