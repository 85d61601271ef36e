/**
 * One SCTP association carrying byte streams: one SCTP stream per connection, no smux.
 * SCTP streams have no open or close of their own, so each message's PPID says what it is
 * (README "sctp transport"): {@link PPID_DATA} bytes, {@link PPID_OPEN} (optional, sent
 * before any data so that a server-first protocol works), {@link PPID_FIN} (this direction
 * is done). A stream id is free again once both sides have sent FIN; SCTP delivers each
 * stream in order, so a FIN always arrives before the first message of the stream's
 * next use. Peers that know none of this (usrsctp's `client`) send plain data with PPID 0.
 *
 * @module
 */
import { NamedAddr } from "../net/addr.ts";
import { ClosedError } from "../net/errors.ts";
import type { Addr, Conn } from "../net/types.ts";

export const PPID_DATA = 0;
/** "sc" + 0x7001: private values, not in IANA's PPID registry. */
export const PPID_OPEN = 0x73637001;
export const PPID_FIN = 0x73637002;

/** Largest message we send; larger writes are split. */
export const MAX_MESSAGE = 64 * 1024;
/** Bytes a stream may hold unread before the association's receive loop waits for it. */
export const STREAM_HIGH_WATER = 1024 * 1024;

/** Sends one message on a stream of this association. */
export type SendMessage = (sid: number, ppid: number, data: Uint8Array) => Promise<void>;

const CONTROL_BODY = new Uint8Array([0]);
const UNKNOWN_PEER = new NamedAddr("sctp", "unknown");

/** A stream of an association as a {@link Conn}. */
export class SctpStream implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #readDone = false;
  #finSent = false;
  #finReceived = false;
  #pulled: (() => void) | null = null;
  readonly #onFree: () => void;

  constructor(
    readonly sid: number,
    readonly localAddr: Addr,
    readonly remoteAddr: Addr,
    readonly maxMessage: number,
    readonly send: SendMessage,
    onFree: () => void,
  ) {
    this.#onFree = onFree;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        this.#pulled?.();
        this.#pulled = null;
      },
      cancel: () => {
        this.#readDone = true;
        this.#pulled?.();
        this.#pulled = null;
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: STREAM_HIGH_WATER }));
    this.writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (this.#finSent) throw new ClosedError("SCTP stream");
        for (let off = 0; off < chunk.length; off += this.maxMessage) {
          await this.send(sid, PPID_DATA, chunk.subarray(off, off + this.maxMessage));
        }
      },
      close: () => this.#sendFin(),
      abort: () => this.#sendFin(),
    });
  }

  /** Data from the peer; resolves when the stream has room again (backpressure). */
  deliver(data: Uint8Array): Promise<void> | undefined {
    if (this.#readDone) return;
    this.#controller.enqueue(data);
    if ((this.#controller.desiredSize ?? 1) > 0) return;
    return new Promise((resolve) => (this.#pulled = resolve));
  }

  /** The peer's FIN: end of its bytes. */
  receiveFin(): void {
    this.#finReceived = true;
    this.#endRead();
    this.#maybeFree();
  }

  /** The association is gone: both directions fail. */
  fail(reason: Error): void {
    if (!this.#readDone) {
      this.#readDone = true;
      this.#controller.error(reason);
    }
    this.#finSent = this.#finReceived = true;
    this.writable.abort(reason).catch(() => {});
    this.#pulled?.();
  }

  close(): void {
    this.#endRead();
    this.#sendFin();
    if (this.#pulled) {
      this.#pulled();
      this.#pulled = null;
    }
  }

  #endRead() {
    if (this.#readDone) return;
    this.#readDone = true;
    try {
      this.#controller.close();
    } catch { /* cancelled */ }
  }

  #sendFin(): Promise<void> {
    if (this.#finSent) return Promise.resolve();
    this.#finSent = true;
    const sent = this.send(this.sid, PPID_FIN, CONTROL_BODY).catch(() => {});
    this.#maybeFree();
    return sent;
  }

  #maybeFree() {
    if (this.#finSent && this.#finReceived) this.#onFree();
  }
}

/** What an association needs from its socket and where it is. */
export interface AssociationOptions {
  localAddr: Addr;
  /** The peer; a server learns it from the first message (a notification carries none). */
  remoteAddr?: Addr;
  send: SendMessage;
  /** Streams the peer accepts (the COMM_UP outbound count). */
  streams: number;
  maxMessage?: number;
}

/** The streams of one association, on either side. */
export class Association {
  readonly #streams = new Map<number, SctpStream>();
  readonly #freeWaiters: (() => void)[] = [];
  #failed: Error | null = null;
  #remoteAddr: Addr | null;

  constructor(readonly options: AssociationOptions) {
    this.#remoteAddr = options.remoteAddr ?? null;
  }

  get remoteAddr(): Addr {
    return this.#remoteAddr ?? UNKNOWN_PEER;
  }

  set remoteAddr(addr: Addr) {
    this.#remoteAddr = addr;
  }

  get remoteKnown(): boolean {
    return this.#remoteAddr !== null;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  get failed(): boolean {
    return this.#failed !== null;
  }

  /**
   * Opens a stream on the lowest free id (client side), waiting for one if all are in use.
   * Sends OPEN so that the peer learns of it before any data.
   */
  async open(signal?: AbortSignal): Promise<SctpStream> {
    for (;;) {
      if (this.#failed) throw this.#failed;
      signal?.throwIfAborted();
      for (let sid = 0; sid < this.options.streams; sid++) {
        if (this.#streams.has(sid)) continue;
        const stream = this.#create(sid);
        await this.options.send(sid, PPID_OPEN, CONTROL_BODY);
        return stream;
      }
      await new Promise<void>((resolve) => this.#freeWaiters.push(resolve));
    }
  }

  /**
   * One message from the peer. Returns the stream it opened (server side: the first
   * message on an unused id), and a promise when the receive loop should wait.
   */
  receive(
    sid: number,
    ppid: number,
    data: Uint8Array,
    accept: boolean,
  ): { opened: SctpStream | null; wait: Promise<void> | undefined } {
    let stream = this.#streams.get(sid);
    let opened: SctpStream | null = null;
    if (!stream) {
      if (!accept || ppid === PPID_FIN) return { opened: null, wait: undefined };
      stream = opened = this.#create(sid);
    }
    if (ppid === PPID_FIN) stream.receiveFin();
    else if (ppid !== PPID_OPEN) return { opened, wait: stream.deliver(data) };
    return { opened, wait: undefined };
  }

  /** The association ended: every stream fails; waiters for a free id wake up and fail. */
  fail(reason: Error): void {
    if (this.#failed) return;
    this.#failed = reason;
    for (const s of [...this.#streams.values()]) s.fail(reason);
    this.#streams.clear();
    for (const w of this.#freeWaiters.splice(0)) w();
  }

  #create(sid: number): SctpStream {
    const stream = new SctpStream(
      sid,
      this.options.localAddr,
      this.remoteAddr,
      this.options.maxMessage ?? MAX_MESSAGE,
      (s, p, d) => {
        if (this.#failed) return Promise.reject(this.#failed);
        return this.options.send(s, p, d);
      },
      () => {
        if (this.#streams.get(sid) !== stream) return;
        this.#streams.delete(sid);
        this.#freeWaiters.shift()?.();
      },
    );
    this.#streams.set(sid, stream);
    return stream;
  }
}
