/**
 * One smux stream: a {@link Conn} multiplexed over a session.
 *
 * @module
 */
import { ClosedError } from "../net/errors.ts";
import type { Addr, Conn } from "../net/types.ts";
import type { SmuxConfig } from "./config.ts";
import { encodeSmuxUpd, SMUX_CMD_FIN, SMUX_CMD_UPD, SMUX_INITIAL_PEER_WINDOW } from "./frame.ts";

/** What a stream needs from its session; implemented inside SmuxSession. */
export interface SmuxStreamHost {
  readonly config: Readonly<SmuxConfig>;
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  /** Queues a frame with a small payload (SYN, FIN, NOP, UPD). */
  sendControl(cmd: number, sid: number, data?: Uint8Array): void;
  /** Copies `data` into PSH frames of at most maxFrameSize and queues them. */
  sendData(sid: number, data: Uint8Array): void;
  /** A promise to wait on while the session's send queue is over its high-water mark. */
  backpressure(): Promise<void> | null;
  /** Gives read bytes back to the session-wide receive buffer. */
  returnTokens(n: number): void;
  /**
   * v2: the stream may now be sent `delta` more (or fewer) bytes than before: the session's sum
   * of these is what a peer that keeps to the windows can make it hold.
   */
  reserve(delta: number): void;
  /** v2: the window to announce to a stream whose reservation is `reserved` bytes. */
  windowFor(reserved: number): number;
  /** The stream is done with the wire (both FINs, or closed): forget its id. */
  release(sid: number, stream: SmuxStream): void;
}

/**
 * A multiplexed byte stream. Closing `writable` sends FIN (half-close: reading
 * continues); a FIN from the peer ends `readable`; `close()` ends both.
 */
export class SmuxStream implements Conn {
  readonly id: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;

  #host: SmuxStreamHost;
  #v2: boolean;
  #updThreshold: number;

  // Receive side.
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #finReceived = false;
  #readCanceled = false;
  #readWake: (() => void) | null = null;
  #numRead = 0;
  #incr = 0;
  #updSent = false;
  /** v2: the peer may send up to this offset (mod 2^32): the largest consumed + window granted. */
  #grantEnd = SMUX_INITIAL_PEER_WINDOW;
  /** v2: what this stream has reserved in the session's receive budget. */
  #reserved = 0;

  // Send side (v2 window).
  #numWritten = 0;
  #peerConsumed = 0;
  #peerWindow = SMUX_INITIAL_PEER_WINDOW;
  #writeWake: (() => void) | null = null;
  #finSent = false;

  #closed = false;
  #sessionError: Error | null = null;
  #readCtl!: ReadableStreamDefaultController<Uint8Array>;
  #writeCtl!: WritableStreamDefaultController;

  /** @internal Created by SmuxSession. */
  constructor(id: number, host: SmuxStreamHost) {
    this.id = id;
    this.#host = host;
    this.#v2 = host.config.version === 2;
    this.#updThreshold = Math.floor(host.config.maxStreamBuffer / 2);
    this.#account();
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#readCtl = c;
      },
      pull: (c) => this.#pull(c),
      cancel: () => {
        this.#readCanceled = true;
        this.#discard();
        this.#account();
      },
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      start: (c) => {
        this.#writeCtl = c;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#sendFin(),
      abort: () => this.#sendFin(),
    });
  }

  get localAddr(): Addr {
    return this.#host.localAddr;
  }

  get remoteAddr(): Addr {
    return this.#host.remoteAddr;
  }

  /** Whether neither side has closed or half-closed the stream and its session is alive. */
  get isOpen(): boolean {
    return !this.#closed && !this.#finReceived && !this.#finSent && this.#sessionError === null;
  }

  /** Bytes received and not yet handed to `readable`'s consumer. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Closes both directions, sends FIN if not yet sent and drops unread data. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#finSent && this.#sessionError === null) {
      this.#finSent = true;
      this.#host.sendControl(SMUX_CMD_FIN, this.id);
    }
    this.#discard();
    this.#account();
    this.#host.release(this.id, this);
    const err = new ClosedError("smux stream");
    try {
      this.#readCtl.error(err);
    } catch { /* already closed */ }
    try {
      this.#writeCtl.error(err);
    } catch { /* already closed */ }
    this.#wake();
  }

  /** @internal PSH payload from the session. False if it was dropped (no tokens charged). */
  receiveData(data: Uint8Array): boolean {
    if (this.#closed || this.#readCanceled || this.#finReceived) return false;
    this.#chunks.push(data);
    this.#buffered += data.length;
    const wake = this.#readWake;
    if (wake) {
      this.#readWake = null;
      wake();
    }
    return true;
  }

  /** @internal FIN from the peer. */
  receiveFin(): void {
    if (this.#finReceived) return;
    this.#finReceived = true;
    this.#account();
    this.#wake();
    if (this.#finSent) this.#host.release(this.id, this);
  }

  /** @internal UPD from the peer. */
  receiveUpdate(consumed: number, window: number): void {
    this.#peerConsumed = consumed;
    this.#peerWindow = window;
    const wake = this.#writeWake;
    if (wake) {
      this.#writeWake = null;
      wake();
    }
  }

  /** @internal The session is gone: readers get what is buffered, then the error. */
  sessionClosed(err: Error): void {
    if (this.#sessionError !== null) return;
    this.#sessionError = err;
    try {
      this.#writeCtl.error(err);
    } catch { /* already closed */ }
    this.#wake();
  }

  #wake(): void {
    const r = this.#readWake;
    const w = this.#writeWake;
    this.#readWake = null;
    this.#writeWake = null;
    r?.();
    w?.();
  }

  async #pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (this.#buffered > 0) {
        this.#deliver(c);
        return;
      }
      if (this.#closed) return;
      if (this.#finReceived) {
        c.close();
        return;
      }
      if (this.#sessionError !== null) {
        c.error(this.#sessionError);
        return;
      }
      await new Promise<void>((resolve) => (this.#readWake = resolve));
    }
  }

  #deliver(c: ReadableStreamDefaultController<Uint8Array>): void {
    const n = this.#buffered;
    for (const chunk of this.#chunks) c.enqueue(chunk);
    this.#chunks = [];
    this.#buffered = 0;
    this.#host.returnTokens(n);
    if (!this.#v2) return;
    // xtaci/smux: UPD on the first read, then each time half the window has been read.
    this.#numRead = (this.#numRead + n) >>> 0;
    this.#incr += n;
    if (this.#incr >= this.#updThreshold || !this.#updSent) {
      this.#incr = 0;
      this.#updSent = true;
      if (!this.#closed && this.#sessionError === null) {
        const window = this.#host.windowFor(this.#reserved);
        this.#updThreshold = Math.floor(window / 2);
        const end = (this.#numRead + window) >>> 0;
        // A smaller window than before does not take back what the last one granted.
        if (((end - this.#grantEnd) | 0) > 0) this.#grantEnd = end;
        this.#host.sendControl(SMUX_CMD_UPD, this.id, encodeSmuxUpd(this.#numRead, window));
      }
    }
    this.#account();
  }

  /**
   * v2: reserves in the session what the peer may still make this stream hold: up to the end
   * of its grant while it is read, what it holds once no more data is taken (FIN, cancel), 0
   * once closed.
   */
  #account(): void {
    if (!this.#v2) return;
    let want: number;
    if (this.#closed || this.#readCanceled) want = 0;
    else if (this.#finReceived) want = this.#buffered;
    else want = Math.max(0, (this.#grantEnd - this.#numRead) | 0);
    if (want !== this.#reserved) {
      this.#host.reserve(want - this.#reserved);
      this.#reserved = want;
    }
  }

  #discard(): void {
    const n = this.#buffered;
    this.#chunks = [];
    this.#buffered = 0;
    if (n > 0) this.#host.returnTokens(n);
  }

  #checkWritable(): void {
    if (this.#sessionError !== null) throw this.#sessionError;
    if (this.#closed || this.#finSent) throw new ClosedError("smux stream");
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(`smux stream write wants a Uint8Array, got ${typeof chunk}`);
    }
    let off = 0;
    while (off < chunk.length) {
      this.#checkWritable();
      let n = chunk.length - off;
      if (this.#v2) {
        // Window arithmetic is modulo 2^32, as in xtaci/smux.
        const inflight = (this.#numWritten - this.#peerConsumed) | 0;
        if (inflight < 0) {
          throw new RangeError(
            `smux peer consumed ${this.#peerConsumed} more than sent ${this.#numWritten}`,
          );
        }
        const win = ((this.#peerWindow | 0) - inflight) | 0;
        if (win <= 0) {
          await new Promise<void>((resolve) => (this.#writeWake = resolve));
          continue;
        }
        if (n > win) n = win;
        this.#numWritten = (this.#numWritten + n) >>> 0;
      }
      this.#host.sendData(this.id, chunk.subarray(off, off + n));
      off += n;
      const bp = this.#host.backpressure();
      if (bp) await bp;
    }
  }

  #sendFin(): void {
    if (this.#finSent || this.#closed || this.#sessionError !== null) return;
    this.#finSent = true;
    this.#host.sendControl(SMUX_CMD_FIN, this.id);
    if (this.#finReceived) this.#host.release(this.id, this);
  }
}
