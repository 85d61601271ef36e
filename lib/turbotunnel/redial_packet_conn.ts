import { AsyncQueue, ClosedError, NamedAddr } from "../net/mod.ts";
import type { Addr, Packet, PacketConn } from "../net/mod.ts";
import { QUEUE_SIZE } from "./client_map.ts";

/** Options for {@link RedialPacketConn}. */
export interface RedialOptions {
  /** Depth of the receive and send queues; full queues drop. Default 512. */
  queueSize?: number;
  /**
   * Wait after a failed dial, and the minimum time between two dials, so that a dialer whose
   * conns die at once cannot spin. Default 1000 ms.
   */
  retryDelayMs?: number;
  /** Local address reported by this conn. Default `turbotunnel:redial`. */
  localAddr?: Addr;
  /** Called with each dial or conn error (already handled; for logs and tests). */
  onError?: (e: unknown) => void;
}

/**
 * The client's PacketConn for KCP (PROTOCOL.md §5): it uses one underlying PacketConn (one
 * proxy) until a read or write on it fails, then dials a new one. Errors never reach KCP:
 * packets written while no conn is up wait in a bounded send queue (dropped when full) and
 * KCP retransmits whatever was lost. Only {@link close} ends it.
 */
export class RedialPacketConn implements PacketConn {
  readonly localAddr: Addr;
  readonly remote: Addr;
  #dial: (signal: AbortSignal) => Promise<PacketConn>;
  #recv: AsyncQueue<Packet>;
  #send: AsyncQueue<Uint8Array>;
  #retryDelayMs: number;
  #onError: (e: unknown) => void;
  #abort = new AbortController();
  #current: PacketConn | null = null;
  #done: Promise<void>;
  /** Successful dials, the first included. */
  dials = 0;
  /** Failed dials. */
  dialErrors = 0;
  /** Packets dropped because a queue was full. */
  drops = 0;

  constructor(
    remote: Addr,
    dial: (signal: AbortSignal) => Promise<PacketConn>,
    options: RedialOptions = {},
  ) {
    this.remote = remote;
    this.#dial = dial;
    this.localAddr = options.localAddr ?? new NamedAddr("turbotunnel", "redial");
    this.#recv = new AsyncQueue(options.queueSize ?? QUEUE_SIZE);
    this.#send = new AsyncQueue(options.queueSize ?? QUEUE_SIZE);
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.#onError = options.onError ?? (() => {});
    this.#done = this.#run();
  }

  /** Resolves once closed and the current conn is torn down. */
  get done(): Promise<void> {
    return this.#done;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let lastDial = -Infinity;
    while (!signal.aborted) {
      const wait = lastDial + this.#retryDelayMs - Date.now();
      if (wait > 0 && !(await sleep(wait, signal))) break;
      lastDial = Date.now();
      let conn: PacketConn;
      try {
        conn = await this.#dial(signal);
      } catch (e) {
        if (signal.aborted) break;
        this.dialErrors++;
        this.#onError(e);
        continue;
      }
      if (signal.aborted) {
        conn.close();
        break;
      }
      this.dials++;
      this.#current = conn;
      await this.#serve(conn, signal);
      this.#current = null;
      conn.close();
    }
  }

  /** Pumps both directions over `conn` until either fails or we close. */
  async #serve(conn: PacketConn, outer: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const stop = () => ac.abort(new ClosedError("redial packet conn"));
    outer.addEventListener("abort", stop, { once: true });
    const fail = (e: unknown) => {
      if (!ac.signal.aborted) this.#onError(e);
      stop();
    };
    const reader = (async () => {
      for (;;) {
        const p = await conn.readFrom(ac.signal);
        if (!this.#recv.push({ data: p.data, addr: this.remote })) this.drops++;
      }
    })().catch(fail);
    const writer = (async () => {
      for (;;) {
        const data = await this.#send.shift(ac.signal);
        await conn.writeTo(data, this.remote);
      }
    })().catch(fail);
    await Promise.all([reader, writer]);
    outer.removeEventListener("abort", stop);
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.#recv.shift(signal);
  }

  /** Queues a copy of `data` for whichever conn is current. Never waits, never fails until closed. */
  writeTo(data: Uint8Array, _addr: Addr): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(new ClosedError("redial packet conn"));
    if (!this.#send.push(data.slice())) this.drops++;
    return Promise.resolve();
  }

  close(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(new ClosedError("redial packet conn"));
    this.#current?.close();
    this.#recv.close(new ClosedError("redial packet conn"));
    this.#send.close(new ClosedError("redial packet conn"));
  }
}

/** Sleeps `ms`; false if the signal fired first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const id = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(id);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
