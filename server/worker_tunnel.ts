/**
 * The main thread's handle on one server Worker ({@link ./tunnel_worker.ts}). The main
 * thread configures the Worker (its index, the routing key and the shared table of owners,
 * MessagePorts to every other Worker, the ORPort target, the KCP/smux options and carrier limits), tells it where to
 * listen and which TLS certificate to serve, and gathers its log lines and metrics. No
 * packet passes through here: the Workers own the WebSockets and talk to each other
 * directly ({@link ./peer_link.ts}).
 *
 * A Worker that dies takes the process down with one log line: tor restarts the transport,
 * which is better than a process that silently swallows a share of its clients.
 *
 * @module
 */
import type { KcpOptions } from "../lib/kcp/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import type { OrTarget } from "../lib/pt/extorport.ts";
import type { SmuxConfig } from "../lib/smux/mod.ts";
import type { CarrierLimits } from "./carriers.ts";
import type { Counters, Gauges } from "./metrics.ts";

/** What a Worker is started with. */
export interface WorkerInit {
  t: "init";
  index: number;
  /** MessagePorts to the other Workers by index (null at this Worker's own index). */
  peers: (MessagePort | null)[];
  /** The key of {@link ./route.ts}'s HMAC, the same in every Worker. */
  hmacKey: Uint8Array;
  /** The memory of the Workers' shared {@link ./route.ts} OwnerTable. */
  owners: SharedArrayBuffer;
  target: OrTarget;
  srcaddr: string | null;
  unsafeLogging: boolean;
  limits: CarrierLimits;
  kcp?: KcpOptions;
  smux?: Partial<SmuxConfig>;
}

/** Main → Worker messages. */
export type ToWorker =
  | WorkerInit
  | { t: "listen"; hostname: string; port: number; tls?: { cert: string; key: string } }
  | { t: "tls"; cert: string; key: string }
  | { t: "close" };

/** Worker → main messages. */
export type FromWorker =
  | { t: "listening"; port: number }
  | { t: "listenError"; message: string }
  | { t: "log"; text: string }
  | { t: "metrics"; counters: Counters; gauges: Gauges };

export interface WorkerTunnelOptions extends Omit<WorkerInit, "t" | "unsafeLogging"> {
  log: Logger;
  /** Called when the Worker dies. Default: log it and exit the process with status 1. */
  onDeath?: (message: string) => void;
}

export class WorkerTunnel {
  #worker: Worker;
  #closed = false;
  #listening: { resolve(port: number): void; reject(e: Error): void }[] = [];
  /** The Worker's latest counters and gauges (reported once a second). */
  counters: Partial<Counters> = {};
  gauges: Partial<Gauges> = {};

  constructor(opts: WorkerTunnelOptions) {
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
      if (m.t === "log") opts.log.log(`worker ${opts.index}: ${m.text}`);
      else if (m.t === "metrics") {
        this.counters = m.counters;
        this.gauges = m.gauges;
      } else if (m.t === "listening") this.#listening.shift()?.resolve(m.port);
      else this.#listening.shift()?.reject(new Error(m.message));
    };
    const { log: _log, onDeath: _onDeath, ...init } = opts;
    const ports = opts.peers.filter((p): p is MessagePort => p !== null);
    this.#post({ t: "init", ...init, unsafeLogging: opts.log.unsafe }, ports);
  }

  /**
   * Listens on `hostname:port` (0: a free port) alongside the other Workers; resolves with
   * the port.
   */
  listen(hostname: string, port: number, tls?: { cert: string; key: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#listening.push({ resolve, reject });
      this.#post({ t: "listen", hostname, port, tls });
    });
  }

  /** Serves new TLS connections with this certificate; open ones keep theirs. */
  reloadTls(cert: string, key: string): void {
    this.#post({ t: "tls", cert, key });
  }

  #post(m: ToWorker, transfer: Transferable[] = []): void {
    if (!this.#closed) this.#worker.postMessage(m, transfer);
  }

  close(): void {
    this.#post({ t: "close" });
    this.#closed = true;
    for (const l of this.#listening.splice(0)) l.reject(new Error("worker closed"));
    setTimeout(() => this.#worker.terminate(), 500);
  }
}
