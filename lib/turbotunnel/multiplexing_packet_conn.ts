/**
 * The multipath client's PacketConn for KCP (docs/client.md "Multipath"): one ClientID on
 * several carriers at once, each through its own proxy. Every carrier starts with the token
 * and the ClientID (the carrier pump writes them), then carries encapsulated KCP, so the wire
 * is upstream's and the server needs no change: each live carrier of a ClientID pulls from
 * that client's one send queue, which spreads the downstream over all of them.
 *
 * Upstream, each packet KCP writes goes to one path's own send queue, chosen by a
 * {@link PathMonitor} (weighted by measured delivery; a stalled path gets none). A path with
 * no KCP progress for max(3 × RTT, 1 s) is closed; what still waited in its queue moves to
 * the other paths and KCP resends what was lost with it. A new carrier is dialed for every
 * one that ends. When every path has gone silent for its deadline while the session waits for
 * something, one spare carrier is dialed beside them (`dialSpare`, backing off when it fails,
 * once per silence); the first path to end while more than `paths` are up is not redialed.
 *
 * @module
 */
import { encodePacket } from "../encapsulation/mod.ts";
import { type Addr, AsyncQueue, ClosedError, type Conn, NamedAddr, sleep } from "../net/mod.ts";
import type { Packet, PacketConn } from "../net/mod.ts";
import { type CarrierOptions, runCarrier } from "./carrier.ts";
import type { ClientID } from "./client_id.ts";
import { PathMonitor, type PathMonitorOptions } from "./path_monitor.ts";
import { DEFAULT_SEND_QUEUE_LIMITS, QUEUE_SIZE, SendQueue } from "./send_queue.ts";
import type { SendQueueLimits } from "./send_queue.ts";

/** Options for {@link MultiplexingPacketConn}. */
export interface MultiplexingOptions {
  /** Carriers kept up at once. */
  paths: number;
  /** Depth of the receive queue; a full queue drops. Default 512. */
  queueSize?: number;
  /** Bounds of each path's send queue, and (idleBytes) of the queue while no path is up. */
  sendLimits?: Partial<SendQueueLimits>;
  /** Death rule and scheduler tunables. */
  monitor?: PathMonitorOptions;
  /** How often paths are checked for death. Default 100 ms. */
  checkIntervalMs?: number;
  /** Wait after a failed dial. Default 1000 ms. */
  retryDelayMs?: number;
  /**
   * Dials a carrier beyond `paths` when all of them went silent (docs/client.md "Multipath");
   * without it a silent session waits for its carriers to end.
   */
  dialSpare?: (signal: AbortSignal) => Promise<Conn>;
  /**
   * Whether the layer above waits for the rest of a message now (smux: of a frame), which
   * makes a silent session one that waits.
   */
  midMessage?: () => boolean;
  /** First wait after a failed spare dial; doubles up to 10 s. Default 1000 ms. */
  spareBackoffMs?: number;
  /** Passed to every carrier's pump (maxLength, batchBytes). */
  carrier?: Omit<CarrierOptions, "signal">;
  localAddr?: Addr;
  /** Path events (up, lost with the reason, failover durations); no addresses in them. */
  log?: (message: string) => void;
  /** Called with each dial or carrier error (already handled). */
  onError?: (e: unknown) => void;
}

interface Path {
  id: number;
  name: string;
  queue: SendQueue;
  abort: AbortController;
}

/** Stripes one KCP session over `paths` carriers, redialing each that ends. */
export class MultiplexingPacketConn implements PacketConn {
  readonly localAddr: Addr;
  readonly remote: Addr;
  readonly id: ClientID;
  readonly monitor: PathMonitor;
  #dial: (signal: AbortSignal) => Promise<Conn>;
  #recv: AsyncQueue<Packet>;
  #limits: SendQueueLimits;
  /** Packets waiting while no path is up. */
  #holding: SendQueue;
  #paths = new Map<number, Path>();
  #options: MultiplexingOptions;
  #abort = new AbortController();
  #timer: ReturnType<typeof setInterval>;
  #running = new Set<Promise<void>>();
  /** Carrier loops running: `paths`, plus a spare's until the first path ends. */
  #runners: number;
  #spareDialing = false;
  #spareNextAt = 0;
  #spareBackoff: number;
  /** The session's last progress when a spare was dialed, when its silence began, and when. */
  #spareFor: { progress: number; silentSince: number; at: number } | null = null;
  /** When the last path was lost while no replacement has come up yet. */
  #lostAt: number | null = null;
  /** Bytes each path had moved at the previous {@link shares}. */
  #shareMarks = new Map<number, number>();
  /** Carriers dialed, dials failed, paths closed by the death rule, spares dialed, drops. */
  dials = 0;
  spares = 0;
  dialErrors = 0;
  failovers = 0;
  drops = 0;

  constructor(
    id: ClientID,
    remote: Addr,
    dial: (signal: AbortSignal) => Promise<Conn>,
    options: MultiplexingOptions,
  ) {
    this.id = id;
    this.remote = remote;
    this.#dial = dial;
    this.#options = options;
    this.localAddr = options.localAddr ?? new NamedAddr("turbotunnel", "multiplexing");
    this.#recv = new AsyncQueue(options.queueSize ?? QUEUE_SIZE);
    this.#limits = { ...DEFAULT_SEND_QUEUE_LIMITS, ...options.sendLimits };
    this.#holding = new SendQueue(Date.now(), this.#limits);
    this.monitor = new PathMonitor(options.monitor);
    this.#timer = setInterval(() => this.#check(), options.checkIntervalMs ?? 100);
    this.#spareBackoff = options.spareBackoffMs ?? 1000;
    this.#runners = Math.max(1, options.paths);
    for (let i = 0; i < this.#runners; i++) this.#start();
  }

  /** Resolves once closed and every carrier is torn down. */
  get done(): Promise<void> {
    return (async () => {
      while (this.#running.size > 0) await Promise.all(this.#running);
    })();
  }

  #start(conn?: Conn): void {
    const run = this.#run(conn).finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  /** Paths up now. */
  get live(): number {
    return this.#paths.size;
  }

  async #run(conn?: Conn): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      if (conn === undefined) {
        try {
          conn = await this.#dial(signal);
        } catch (e) {
          if (signal.aborted) break;
          this.dialErrors++;
          this.#options.onError?.(e);
          if (!(await sleep(this.#options.retryDelayMs ?? 1000, signal))) break;
          continue;
        }
      }
      this.dials++;
      if (!(await this.#carry(conn, signal))) return;
      conn = undefined;
    }
  }

  /** Carries the session over `conn` until it ends; whether to dial a replacement. */
  async #carry(conn: Conn, signal: AbortSignal): Promise<boolean> {
    const now = Date.now();
    const name = conn.remoteAddr.toString();
    const id = this.monitor.add(name, now);
    const queue = new SendQueue(now, this.#limits);
    queue.attach(now);
    const path: Path = { id, name, queue, abort: new AbortController() };
    for (let b = this.#holding.take(Infinity); b; b = this.#holding.take(Infinity)) {
      queue.push(b.data, b.packets, now);
    }
    this.#paths.set(id, path);
    this.#log(`proxy ${name} up [${this.#paths.size}/${this.#options.paths} live]`);
    if (this.#lostAt !== null) {
      this.#log(`failover: replacement up ${fmtS(now - this.#lostAt)} after the loss`);
      this.#lostAt = null;
    }
    const onAbort = () => path.abort.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const end = await runCarrier(conn, this.id, {
      deliver: (data) => {
        this.monitor.received(id, data, Date.now());
        if (this.#recv.push({ data, addr: this.remote })) return true;
        this.drops++;
        return false;
      },
      queue,
      release: () => {},
    }, { ...this.#options.carrier, signal: path.abort.signal });
    signal.removeEventListener("abort", onAbort);
    this.#paths.delete(id);
    this.monitor.remove(id, Date.now());
    queue.detach(Date.now());
    this.#reroute(queue);
    queue.close();
    if (signal.aborted) return false;
    // More carriers than `paths` (a spare joined): this one is not replaced.
    const surplus = this.#runners > Math.max(1, this.#options.paths);
    if (surplus) this.#runners--;
    else this.#lostAt ??= Date.now();
    const why = path.abort.signal.aborted ? String(path.abort.signal.reason) : end.reason;
    this.#log(
      `proxy ${name} lost (${why}); ${this.#paths.size}/${this.#options.paths} live, ` +
        (surplus ? "not replaced (a spare took its place)" : "collecting a replacement"),
    );
    if (end.reason !== "aborted" && end.reason !== "eof") {
      this.#options.onError?.(end.error ?? end.reason);
    }
    return !surplus;
  }

  /** Moves what still waited in a dead path's queue to the other paths (or holding). */
  #reroute(queue: SendQueue): void {
    const now = Date.now();
    for (let b = queue.take(Infinity); b; b = queue.take(Infinity)) {
      const target = this.#pathFor(b.data.length, now);
      (target?.queue ?? this.#holding).push(b.data, b.packets, now);
    }
  }

  #pathFor(bytes: number, now: number): Path | undefined {
    for (const p of this.#paths.values()) this.monitor.get(p.id)!.queued = p.queue.bytes;
    const id = this.monitor.pick(bytes, now);
    return id === undefined ? undefined : this.#paths.get(id);
  }

  #check(): void {
    const now = Date.now();
    for (const d of this.monitor.dead(now)) {
      const path = this.#paths.get(d.id);
      if (!path || path.abort.signal.aborted) continue;
      this.failovers++;
      this.#log(
        `failover: proxy ${path.name} has made no progress (${d.reason}); closing it, ` +
          `its traffic moves to ${this.#paths.size - 1} other proxies`,
      );
      path.abort.abort(`no KCP progress for ${fmtS(d.silentMs)}`);
    }
    this.#spare(now);
  }

  /** Dials a spare carrier when every path went silent while the session waits. */
  #spare(now: number): void {
    const progress = this.monitor.lastProgress;
    if (this.#spareFor !== null && progress > this.#spareFor.progress) {
      this.#log(
        `failover: the session moves again after ${
          fmtS(progress - this.#spareFor.silentSince)
        } of silence, ${fmtS(progress - this.#spareFor.at)} after the spare was asked for`,
      );
      this.#spareFor = null;
    }
    const dialSpare = this.#options.dialSpare;
    if (!dialSpare || this.#spareDialing || this.#spareFor !== null) return;
    if (now < this.#spareNextAt) return;
    const silence = this.monitor.allSilent(now, this.#options.midMessage?.() ?? false);
    if (silence === undefined) return;
    this.#spareDialing = true;
    this.spares++;
    const n = this.#paths.size;
    this.#log(
      `failover: all ${n} proxies silent for ${fmtS(silence.silentMs)} while the session waits ` +
        `(${silence.waitingFor}); collecting a spare`,
    );
    const signal = this.#abort.signal;
    dialSpare(signal).then((conn) => {
      this.#spareDialing = false;
      if (signal.aborted) return conn.close();
      this.#spareBackoff = this.#options.spareBackoffMs ?? 1000;
      this.#spareFor = { progress, silentSince: now - silence.silentMs, at: now };
      this.#log(`failover: spare up ${fmtS(Date.now() - now)} after it was asked for`);
      this.#runners++;
      this.#start(conn);
    }, (e) => {
      this.#spareDialing = false;
      if (signal.aborted) return;
      this.dialErrors++;
      this.#options.onError?.(e);
      this.#spareNextAt = Date.now() + this.#spareBackoff;
      this.#spareBackoff = Math.min(2 * this.#spareBackoff, 10_000);
    });
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.#recv.shift(signal);
  }

  /** Queues `data` on the path the scheduler picks. Never waits, never fails until closed. */
  writeTo(data: Uint8Array, _addr: Addr): Promise<void> {
    if (this.#abort.signal.aborted) {
      return Promise.reject(new ClosedError("multiplexing packet conn"));
    }
    const now = Date.now();
    const encoded = encodePacket(data);
    const path = this.#pathFor(encoded.length, now);
    if (path === undefined) {
      this.#holding.push(encoded, 1, now);
    } else if (path.queue.push(encoded, 1, now)) {
      this.monitor.sent(path.id, data, now);
    }
    return Promise.resolve();
  }

  /** Packets dropped because a send queue was full. */
  get sendDrops(): number {
    let n = this.#holding.drops;
    for (const p of this.#paths.values()) n += p.queue.drops;
    return n;
  }

  /**
   * One line for the status log: each live proxy's share of the bytes it moved since the
   * previous call, its RTT and rate (and packets dropped at full queues, if any).
   */
  shares(): string {
    const paths = this.monitor.paths();
    const moved = paths.map((p) => {
      const total = p.bytesIn + p.bytesOut;
      const prev = this.#shareMarks.get(p.id) ?? 0;
      this.#shareMarks.set(p.id, total);
      return total - prev;
    });
    const sum = moved.reduce((n, b) => n + b, 0);
    for (const id of this.#shareMarks.keys()) {
      if (!this.monitor.get(id)) this.#shareMarks.delete(id);
    }
    const drops = this.drops + this.sendDrops;
    return (drops > 0 ? `${drops} packets dropped so far (full queues); ` : "") +
      paths.map((p, i) =>
        `${p.name} ${sum > 0 ? Math.round((100 * moved[i]!) / sum) : 0}%` +
        ` (rtt ${p.srtt === undefined ? "?" : Math.round(p.srtt)} ms, ${
          Math.round(p.rate / 1024)
        } KiB/s)`
      ).join(", ");
  }
  #log(m: string): void {
    this.#options.log?.(m);
  }

  close(): void {
    if (this.#abort.signal.aborted) return;
    clearInterval(this.#timer);
    this.#abort.abort(new ClosedError("multiplexing packet conn"));
    this.#recv.close(new ClosedError("multiplexing packet conn"));
    this.#holding.close();
  }
}

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
