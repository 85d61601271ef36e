/**
 * One SCTP association carrying byte streams: one SCTP stream per connection, no smux.
 * SCTP streams have no open or close of their own, so each message's PPID says what it is
 * (docs/PROTOCOL.md §10): {@link PPID_DATA} bytes, {@link PPID_OPEN} (optional, sent
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
/**
 * Bytes one association may hold that its streams' readers have not taken. A client's
 * receive loop waits above it; a server aborts the association instead (README: sctp
 * transport), so that one stuck reader never stalls every other client.
 */
export const ASSOCIATION_QUEUE_LIMIT = 16 * 1024 * 1024;

/** Sends one message on a stream of this association. */
export type SendMessage = (sid: number, ppid: number, data: Uint8Array) => Promise<void>;

const CONTROL_BODY = new Uint8Array([0]);
const UNKNOWN_PEER = new NamedAddr("sctp", "unknown");

/** Bytes received but not yet taken by a reader, against a limit; wakes waiters at half. */
export class ByteBudget {
  #queued = 0;
  #waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get queued(): number {
    return this.#queued;
  }

  get over(): boolean {
    return this.#queued > this.limit;
  }

  /** Counts bytes in (positive) or taken (negative). */
  add(delta: number): void {
    this.#queued += delta;
    if (this.#queued <= this.limit / 2 && this.#waiters.length) {
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /** Resolves once the queue is at half the limit or less. */
  drained(): Promise<void> {
    if (this.#queued <= this.limit / 2) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** A stream of an association as a {@link Conn}. */
export class SctpStream implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #wake: (() => void) | null = null;
  /** Nothing more will be handed to the reader after the queue (peer FIN or local close). */
  #ended = false;
  /** Incoming data is dropped: the reader cancelled or we closed. */
  #discard = false;
  #failed: Error | null = null;
  #finSent = false;
  #finReceived = false;
  readonly #onFree: () => void;
  readonly #account: (delta: number) => void;

  constructor(
    readonly sid: number,
    readonly localAddr: Addr,
    readonly remoteAddr: Addr,
    readonly maxMessage: number,
    readonly send: SendMessage,
    onFree: () => void,
    account: (delta: number) => void,
  ) {
    this.#onFree = onFree;
    this.#account = account;
    this.readable = new ReadableStream<Uint8Array>({
      pull: (c) => this.#pull(c),
      cancel: () => {
        this.#discard = this.#ended = true;
        this.#drop();
      },
    }, { highWaterMark: 0 });
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

  async #pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk) {
        this.#queued -= chunk.length;
        this.#account(-chunk.length);
        c.enqueue(chunk);
        return;
      }
      if (this.#failed) return c.error(this.#failed);
      if (this.#ended) return c.close();
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #wakeReader() {
    this.#wake?.();
    this.#wake = null;
  }

  /** Gives back the budget of bytes no reader will take. */
  #drop() {
    this.#queue.length = 0;
    this.#account(-this.#queued);
    this.#queued = 0;
  }

  /** Data from the peer, queued for the reader (dropped after a local close). */
  deliver(data: Uint8Array): void {
    if (this.#discard || this.#ended) return;
    this.#queue.push(data);
    this.#queued += data.length;
    this.#account(data.length);
    this.#wakeReader();
  }

  /** The peer's FIN: end of its bytes. */
  receiveFin(): void {
    this.#finReceived = this.#ended = true;
    this.#wakeReader();
    this.#maybeFree();
  }

  /** The association is gone: both directions fail. */
  fail(reason: Error): void {
    this.#failed ??= reason;
    this.#drop();
    this.#finSent = this.#finReceived = true;
    this.writable.abort(reason).catch(() => {});
    this.#wakeReader();
  }

  close(): void {
    this.#discard = this.#ended = true;
    this.#drop();
    this.#wakeReader();
    this.#sendFin();
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
  /** Unread bytes allowed for this association (default {@link ASSOCIATION_QUEUE_LIMIT}). */
  queueLimit?: number;
  /** A budget shared with other associations (a listener's), counted as well. */
  shared?: ByteBudget;
}

/** The streams of one association, on either side. */
export class Association {
  readonly #streams = new Map<number, SctpStream>();
  readonly #freeWaiters: (() => void)[] = [];
  #failed: Error | null = null;
  #remoteAddr: Addr | null;
  /** Bytes its streams hold that no reader has taken yet. */
  readonly budget: ByteBudget;

  constructor(readonly options: AssociationOptions) {
    this.#remoteAddr = options.remoteAddr ?? null;
    this.budget = new ByteBudget(options.queueLimit ?? ASSOCIATION_QUEUE_LIMIT);
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
   * One message from the peer; returns the stream it opened (server side: the first message
   * on an unused id). The caller watches {@link budget}.
   */
  receive(sid: number, ppid: number, data: Uint8Array, accept: boolean): SctpStream | null {
    let stream = this.#streams.get(sid);
    let opened: SctpStream | null = null;
    if (!stream) {
      if (!accept || ppid === PPID_FIN) return null;
      stream = opened = this.#create(sid);
    }
    if (ppid === PPID_FIN) stream.receiveFin();
    else if (ppid !== PPID_OPEN) stream.deliver(data);
    return opened;
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
      (delta) => {
        this.budget.add(delta);
        this.options.shared?.add(delta);
      },
    );
    this.#streams.set(sid, stream);
    return stream;
  }
}
