/**
 * The client's PacketConn for KCP (docs/ARCHITECTURE.md "Turbo Tunnel"): one ClientID,
 * one carrier at a time, redialed whenever the current one ends.
 *
 * @module
 */
import { encodePacket } from "../encapsulation/mod.ts";
import { type Addr, AsyncQueue, ClosedError, type Conn, NamedAddr, sleep } from "../net/mod.ts";
import type { Packet, PacketConn } from "../net/mod.ts";
import { type CarrierEndpoint, type CarrierOptions, runCarrier } from "./carrier.ts";
import type { ClientID } from "./client_id.ts";
import { QUEUE_SIZE, SendQueue, type SendQueueLimits } from "./send_queue.ts";
import { DEFAULT_SEND_QUEUE_LIMITS } from "./send_queue.ts";

/** Options for {@link RedialPacketConn}. */
export interface RedialOptions {
  /** Depth of the receive queue; a full queue drops. Default 512. */
  queueSize?: number;
  /** Bounds of the send queue (see {@link SendQueue}); `timeoutMs` is not used here. */
  sendLimits?: Partial<SendQueueLimits>;
  /**
   * Wait after a failed dial, and the minimum time between two dials, so that a dialer whose
   * conns die at once cannot spin. Default 1000 ms.
   */
  retryDelayMs?: number;
  /**
   * Carriers kept up at once, all draining the one send queue in turn (multipath).
   * Default 1.
   */
  carriers?: number;
  /** Local address reported by this conn. Default `turbotunnel:redial`. */
  localAddr?: Addr;
  /** Passed to every carrier's pump (maxLength, batchBytes). */
  carrier?: Omit<CarrierOptions, "signal">;
  /** Called with each dial or carrier error (already handled; for logs and tests). */
  onError?: (e: unknown) => void;
}

/**
 * Dials a carrier (a byte-stream Conn through a fresh proxy), runs the carrier pump over
 * it ({@link runCarrier}: token and ClientID first, then encapsulated packets both ways),
 * and when it ends dials the next one; with `carriers` > 1, keeps that many up at once. Errors never reach KCP: what KCP writes waits in
 * one bounded {@link SendQueue} (full → dropped, KCP retransmits) for whichever carrier is
 * current. Only {@link close} ends it.
 */
export class RedialPacketConn implements PacketConn {
  readonly localAddr: Addr;
  readonly remote: Addr;
  readonly id: ClientID;
  #dial: (signal: AbortSignal) => Promise<Conn>;
  #recv: AsyncQueue<Packet>;
  #send: SendQueue;
  #retryDelayMs: number;
  #carrier: Omit<CarrierOptions, "signal">;
  #onError: (e: unknown) => void;
  #abort = new AbortController();
  #done: Promise<void>;
  /** Successful dials, the first included. */
  dials = 0;
  /** Failed dials. */
  dialErrors = 0;
  /** Packets dropped because the receive queue was full. */
  drops = 0;

  constructor(
    id: ClientID,
    remote: Addr,
    dial: (signal: AbortSignal) => Promise<Conn>,
    options: RedialOptions = {},
  ) {
    this.id = id;
    this.remote = remote;
    this.#dial = dial;
    this.localAddr = options.localAddr ?? new NamedAddr("turbotunnel", "redial");
    this.#recv = new AsyncQueue(options.queueSize ?? QUEUE_SIZE);
    this.#send = new SendQueue(Date.now(), { ...DEFAULT_SEND_QUEUE_LIMITS, ...options.sendLimits });
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.#carrier = options.carrier ?? {};
    this.#onError = options.onError ?? (() => {});
    const n = options.carriers ?? 1;
    this.#done = Promise.all(Array.from({ length: n }, () => this.#run())).then(() => {});
  }

  /** Resolves once closed and the current carrier is torn down. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Packets dropped because the send queue was full. */
  get sendDrops(): number {
    return this.#send.drops;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let lastDial = -Infinity;
    while (!signal.aborted) {
      const wait = lastDial + this.#retryDelayMs - Date.now();
      if (wait > 0 && !(await sleep(wait, signal))) break;
      lastDial = Date.now();
      let conn: Conn;
      try {
        conn = await this.#dial(signal);
      } catch (e) {
        if (signal.aborted) break;
        this.dialErrors++;
        this.#onError(e);
        continue;
      }
      this.dials++;
      this.#send.attach(Date.now());
      const endpoint: CarrierEndpoint = {
        deliver: (data) => {
          if (this.#recv.push({ data, addr: this.remote })) return true;
          this.drops++;
          return false;
        },
        queue: this.#send,
        release: () => this.#send.detach(Date.now()),
      };
      const end = await runCarrier(conn, this.id, endpoint, { ...this.#carrier, signal });
      if (end.reason !== "aborted" && end.reason !== "eof") this.#onError(end.error ?? end.reason);
    }
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.#recv.shift(signal);
  }

  /** Queues `data` for whichever carrier is current. Never waits, never fails until closed. */
  writeTo(data: Uint8Array, _addr: Addr): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(new ClosedError("redial packet conn"));
    this.#send.push(encodePacket(data), 1, Date.now());
    return Promise.resolve();
  }

  close(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(new ClosedError("redial packet conn"));
    this.#recv.close(new ClosedError("redial packet conn"));
    this.#send.close();
  }
}
