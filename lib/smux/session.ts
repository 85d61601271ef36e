/**
 * smux session: multiplexes {@link SmuxStream}s over one reliable {@link Conn},
 * wire-compatible with xtaci/smux v1.5.x (v1 and v2).
 *
 * @module
 */
import { ClosedError, TimeoutError } from "../net/errors.ts";
import { AsyncQueue } from "../net/queue.ts";
import type { Addr, Conn } from "../net/types.ts";
import { resolveSmuxConfig, type SmuxConfig } from "./config.ts";
import {
  decodeSmuxUpd,
  SMUX_CMD_FIN,
  SMUX_CMD_NOP,
  SMUX_CMD_PSH,
  SMUX_CMD_SYN,
  SMUX_CMD_UPD,
  SMUX_HEADER_SIZE,
  SMUX_INITIAL_PEER_WINDOW,
  type SmuxFrame,
  SmuxFrameDecoder,
  writeSmuxHeader,
} from "./frame.ts";
import { SmuxStream, type SmuxStreamHost } from "./stream.ts";

// Upstream constants.
/** xtaci/smux defaultAcceptBacklog: the read loop pauses while this many streams wait. */
const ACCEPT_BACKLOG = 1024;

// Implementation constants.
/** Frames are packed into batch buffers of up to this size, so small frames go out in one write. */
const BATCH_BYTES = 256 * 1024;
/** The first batch buffer after idle; each one that fills up doubles the next, to BATCH_BYTES. */
const MIN_BATCH_BYTES = 4096;
/** A session whose send queue stayed empty this long drops its batch buffer (idle memory). */
const BATCH_RELEASE_MS = 1000;
/** Stream writers wait while this many bytes are queued and not yet handed to the conn. */
const SEND_HIGH_WATER = 1024 * 1024;

const EMPTY = new Uint8Array(0);

export interface SmuxSessionOptions {
  /** Client sessions open odd stream ids (3, 5, …), servers even ones (2, 4, …). */
  client: boolean;
  /** Overrides of {@link DEFAULT_SMUX_CONFIG}; validated. */
  config?: Partial<SmuxConfig>;
  /**
   * The conn's writer has copied each chunk once its write settles (a KCP session does), so a
   * batch buffer whose writes have all settled is reused for a later batch instead of being
   * left to the GC (see docs/ARCHITECTURE.md, "Server memory").
   */
  reuseBatches?: boolean;
}

/**
 * A smux session over `conn`. It owns the conn: closing the session closes it,
 * and a conn error, a protocol error or a keepalive timeout closes the session.
 */
export class SmuxSession {
  #conn: Conn;
  #config: SmuxConfig;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #decoder: SmuxFrameDecoder;
  #midFrame = false;
  #streams = new Map<number, SmuxStream>();
  #nextId: number;
  #accepts = new AsyncQueue<SmuxStream>(ACCEPT_BACKLOG);
  #acceptWake: (() => void) | null = null;
  /** Bytes received and not yet read by the streams. */
  #held = 0;
  /** v2: the sum of the streams' reservations (stream.ts #account). */
  #reserved = 0;
  /** The read loop waits for the streams to read ({@link SmuxSession.#full}). */
  #paused = false;
  #resumeWake: (() => void) | null = null;
  #dataReady = false;
  #lastRead = Date.now();
  #error: Error | null = null;
  #resolveClosed!: () => void;
  #timers: ReturnType<typeof setInterval>[] = [];
  #host: SmuxStreamHost;

  // Send queue: frames are written into #out at [#outStart, #outEnd) until flushed.
  // #out is allocated on demand and dropped after BATCH_RELEASE_MS without sending.
  #out = EMPTY;
  #nextBatch = MIN_BATCH_BYTES;
  #reuseBatches: boolean;
  /** Writes not yet settled, by batch buffer (only with reuseBatches). */
  #unsettled = new Map<ArrayBufferLike, number>();
  /** A batch buffer no longer referenced by any write, for the next batch. */
  #spare = EMPTY;
  #appends = 0;
  #releaseTimer: ReturnType<typeof setTimeout> | undefined;
  #outStart = 0;
  #outEnd = 0;
  #ready: Uint8Array[] = [];
  #queued = 0;
  #pumping = false;
  #drainWaiters: (() => void)[] = [];

  /** Resolves once the session is closed, for whatever reason. */
  readonly closed: Promise<void>;

  constructor(conn: Conn, options: SmuxSessionOptions) {
    if (typeof options?.client !== "boolean") {
      throw new TypeError("SmuxSession options.client must be a boolean");
    }
    this.#config = resolveSmuxConfig(options.config);
    this.#conn = conn;
    this.#nextId = options.client ? 1 : 0;
    this.#reuseBatches = options.reuseBatches === true;
    this.#decoder = new SmuxFrameDecoder(this.#config.version);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#reader = conn.readable.getReader();
    this.#writer = conn.writable.getWriter();
    this.#writer.closed.catch((e) => this.#fail(toError(e)));
    this.#host = this.#makeHost();
    if (!this.#config.keepAliveDisabled) this.#startKeepalive();
    void this.#readLoop();
  }

  get config(): Readonly<SmuxConfig> {
    return this.#config;
  }

  get localAddr(): Addr {
    return this.#conn.localAddr;
  }

  get remoteAddr(): Addr {
    return this.#conn.remoteAddr;
  }

  /**
   * Whether the session waits on its connection for the rest of a frame it has begun to
   * receive: the peer is mid-message (the multipath client's silence rule, docs/client.md).
   */
  get midFrame(): boolean {
    return this.#midFrame;
  }

  /**
   * Milliseconds since the conn last delivered bytes: how long the peer has been silent. 0 while
   * reading is paused because the streams hold the receive buffer (that is not the peer).
   */
  get silentMs(): number {
    return this.#paused ? 0 : Date.now() - this.#lastRead;
  }

  /** Streams open in this session (0 once closed). */
  get numStreams(): number {
    return this.#error ? 0 : this.#streams.size;
  }

  get isClosed(): boolean {
    return this.#error !== null;
  }

  /** Why the session closed (ClosedError for a local close or EOF), or null while open. */
  get closeReason(): Error | null {
    return this.#error;
  }

  /** Opens a stream (sends SYN). Rejects with the close reason once closed. */
  openStream(): Promise<SmuxStream> {
    if (this.#error) return Promise.reject(this.#error);
    const sid = this.#nextId + 2;
    if (sid > 0xffffffff) {
      return Promise.reject(new RangeError("smux stream ids exhausted; start a new session"));
    }
    this.#nextId = sid;
    const stream = new SmuxStream(sid, this.#host);
    this.#streams.set(sid, stream);
    this.#appendFrame(SMUX_CMD_SYN, sid, EMPTY);
    return Promise.resolve(stream);
  }

  /** Waits for a stream the peer opened. Rejects with the close reason once closed. */
  async acceptStream(signal?: AbortSignal): Promise<SmuxStream> {
    const stream = await this.#accepts.shift(signal);
    const wake = this.#acceptWake;
    if (wake) {
      this.#acceptWake = null;
      wake();
    }
    return stream;
  }

  /** Closes every stream and the conn. Frames not yet written are dropped, as upstream. */
  close(): void {
    this.#fail(new ClosedError("smux session"));
  }

  #makeHost(): SmuxStreamHost {
    // deno-lint-ignore no-this-alias
    const s = this;
    return {
      get config() {
        return s.#config;
      },
      get localAddr() {
        return s.#conn.localAddr;
      },
      get remoteAddr() {
        return s.#conn.remoteAddr;
      },
      sendControl: (cmd, sid, data = EMPTY) => this.#appendFrame(cmd, sid, data),
      sendData: (sid, data) => {
        const max = this.#config.maxFrameSize;
        for (let off = 0; off < data.length; off += max) {
          this.#appendFrame(SMUX_CMD_PSH, sid, data.subarray(off, off + max));
        }
      },
      backpressure: () => {
        if (this.#error || this.#queued <= SEND_HIGH_WATER) return null;
        return new Promise((resolve) => this.#drainWaiters.push(resolve));
      },
      returnTokens: (n) => {
        this.#held -= n;
        this.#resume();
      },
      reserve: (delta) => {
        this.#reserved += delta;
        this.#resume();
      },
      windowFor: (reserved) => {
        const { maxReceiveBuffer, maxStreamBuffer } = this.#config;
        const floor = Math.min(SMUX_INITIAL_PEER_WINDOW, maxStreamBuffer);
        const free = maxReceiveBuffer - (this.#reserved - reserved);
        return Math.max(floor, Math.min(maxStreamBuffer, free));
      },
      release: (sid, stream) => {
        if (this.#streams.get(sid) === stream) this.#streams.delete(sid);
      },
    };
  }

  // ---- receive ----

  /**
   * Whether the read loop must wait for the streams to read. v1 (no windows): once they hold
   * maxReceiveBuffer, as upstream, so one unread stream stalls them all. v2: once they hold more
   * than the peer was granted (it ignored a window), or twice maxReceiveBuffer: windows are
   * handed out of a budget of maxReceiveBuffer (windowFor), the other half covers the 256 KiB
   * every stream starts with, so unread streams do not stall the others until that many are
   * left unread at once (docs/client.md "Receive buffer").
   */
  #full(): boolean {
    const { version, maxReceiveBuffer } = this.#config;
    if (version === 1) return this.#held >= maxReceiveBuffer;
    return this.#held > this.#reserved || this.#held >= 2 * maxReceiveBuffer;
  }

  #resume(): void {
    if (this.#full()) return;
    const wake = this.#resumeWake;
    this.#resumeWake = null;
    wake?.();
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        let frame: SmuxFrame | null;
        while ((frame = this.#decoder.next()) !== null) {
          this.#dispatch(frame);
          while (this.#accepts.length >= ACCEPT_BACKLOG && !this.#error) {
            await new Promise<void>((resolve) => (this.#acceptWake = resolve));
          }
          if (this.#error) return;
        }
        if (this.#full() && !this.#error) {
          this.#paused = true;
          while (this.#full() && !this.#error) {
            await new Promise<void>((resolve) => (this.#resumeWake = resolve));
          }
          this.#paused = false;
          this.#lastRead = Date.now();
        }
        if (this.#error) return;
        this.#midFrame = this.#decoder.buffered > 0;
        const { value, done } = await this.#reader.read();
        this.#midFrame = false;
        if (done) {
          this.#fail(new ClosedError("smux connection"));
          return;
        }
        this.#dataReady = true;
        this.#lastRead = Date.now();
        this.#decoder.push(value);
      }
    } catch (e) {
      this.#fail(toError(e));
    }
  }

  #dispatch(f: SmuxFrame): void {
    const sid = f.sid;
    switch (f.cmd) {
      case SMUX_CMD_NOP:
        return;
      case SMUX_CMD_SYN: {
        if (this.#streams.has(sid)) return;
        const stream = new SmuxStream(sid, this.#host);
        this.#streams.set(sid, stream);
        this.#accepts.push(stream);
        return;
      }
      case SMUX_CMD_FIN:
        this.#streams.get(sid)?.receiveFin();
        return;
      case SMUX_CMD_PSH: {
        const n = f.data.length;
        if (n === 0) return;
        const stream = this.#streams.get(sid);
        if (stream?.receiveData(f.data)) this.#held += n;
        return;
      }
      case SMUX_CMD_UPD: {
        const stream = this.#streams.get(sid);
        if (stream) {
          const { consumed, window } = decodeSmuxUpd(f.data);
          stream.receiveUpdate(consumed, window);
        }
        return;
      }
    }
  }

  // ---- send ----

  #appendFrame(cmd: number, sid: number, data: Uint8Array): void {
    if (this.#error) return;
    const size = SMUX_HEADER_SIZE + data.length;
    if (this.#out.length - this.#outEnd < size) {
      this.#seal();
      this.#retire(this.#out);
      const want = Math.max(this.#nextBatch, size);
      if (this.#spare.length >= want) {
        this.#out = this.#spare;
        this.#spare = EMPTY;
      } else this.#out = new Uint8Array(want);
      this.#nextBatch = Math.min(BATCH_BYTES, this.#nextBatch * 2);
      this.#outStart = this.#outEnd = 0;
    }
    this.#appends++;
    writeSmuxHeader(this.#out, this.#outEnd, this.#config.version, cmd, data.length, sid);
    if (data.length > 0) this.#out.set(data, this.#outEnd + SMUX_HEADER_SIZE);
    this.#outEnd += size;
    this.#queued += size;
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(() => void this.#pump());
    }
  }

  #seal(): void {
    if (this.#outEnd > this.#outStart) {
      this.#ready.push(this.#out.subarray(this.#outStart, this.#outEnd));
      if (this.#reuseBatches) {
        const batch = this.#out.buffer;
        this.#unsettled.set(batch, (this.#unsettled.get(batch) ?? 0) + 1);
      }
      this.#outStart = this.#outEnd;
    }
  }

  async #pump(): Promise<void> {
    try {
      while (!this.#error) {
        if (this.#ready.length === 0 && this.#outEnd === this.#outStart) {
          this.#armRelease();
          return;
        }
        const ds = this.#writer.desiredSize;
        if (ds !== null && ds <= 0) {
          // Waiting lets more frames pile into the current batch.
          await this.#writer.ready;
          continue;
        }
        this.#seal();
        const buf = this.#ready.shift()!;
        const written = this.#writer.write(buf);
        if (this.#reuseBatches) this.#track(buf, written);
        written.catch((e) => this.#fail(toError(e)));
        this.#queued -= buf.length;
        if (this.#queued <= SEND_HIGH_WATER && this.#drainWaiters.length > 0) {
          for (const wake of this.#drainWaiters.splice(0)) wake();
        }
      }
    } catch (e) {
      this.#fail(toError(e));
    } finally {
      this.#pumping = false;
    }
  }

  /** Counted from #seal to the write's settling. */
  #track(chunk: Uint8Array, written: Promise<void>): void {
    const batch = chunk.buffer;
    written.then(() => {
      const n = this.#unsettled.get(batch)! - 1;
      if (n > 0) this.#unsettled.set(batch, n);
      else {
        this.#unsettled.delete(batch);
        if (batch !== this.#out.buffer) this.#keepSpare(new Uint8Array(batch as ArrayBuffer));
      }
    }, () => {});
  }

  /** The batch buffer `out` is replaced: it is spare once none of its writes is pending. */
  #retire(out: Uint8Array<ArrayBuffer>): void {
    if (this.#reuseBatches && out !== EMPTY && !this.#unsettled.has(out.buffer)) {
      this.#keepSpare(out);
    }
  }

  #keepSpare(batch: Uint8Array<ArrayBuffer>): void {
    // After #armRelease dropped the batch, an idle session keeps no buffer.
    if (batch.length > this.#spare.length && this.#out !== EMPTY && this.#error === null) {
      this.#spare = batch;
    }
  }

  /** Drops the batch buffer if nothing is appended for BATCH_RELEASE_MS. */
  #armRelease(): void {
    if (this.#releaseTimer !== undefined || this.#out === EMPTY) return;
    const appends = this.#appends;
    this.#releaseTimer = setTimeout(() => {
      this.#releaseTimer = undefined;
      // Frames went out meanwhile: wait another period from now (the pump that sent them
      // found this timer armed and did not arm its own).
      if (this.#appends !== appends && !this.#pumping) return this.#armRelease();
      if (this.#appends !== appends || this.#outEnd !== this.#outStart) return;
      this.#out = EMPTY;
      this.#spare = EMPTY;
      this.#outStart = this.#outEnd = 0;
      this.#nextBatch = MIN_BATCH_BYTES;
    }, BATCH_RELEASE_MS);
    Deno.unrefTimer(this.#releaseTimer);
  }

  // ---- lifecycle ----

  #startKeepalive(): void {
    const { keepAliveIntervalMs, keepAliveTimeoutMs } = this.#config;
    this.#timers.push(setInterval(() => {
      this.#appendFrame(SMUX_CMD_NOP, 0, EMPTY);
    }, keepAliveIntervalMs));
    this.#timers.push(setInterval(() => {
      // A read loop paused by the receive buffer is not a silent peer.
      if (!this.#dataReady && !this.#paused) {
        this.#fail(new TimeoutError("smux keepalive"));
      }
      this.#dataReady = false;
    }, keepAliveTimeoutMs));
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    for (const id of this.#timers) clearInterval(id);
    this.#timers = [];
    clearTimeout(this.#releaseTimer);
    this.#out = EMPTY;
    for (const stream of this.#streams.values()) stream.sessionClosed(err);
    this.#streams.clear();
    for (let s = this.#accepts.tryShift(); s; s = this.#accepts.tryShift()) s.sessionClosed(err);
    this.#accepts.close(err);
    const wakes = [this.#resumeWake, this.#acceptWake, ...this.#drainWaiters.splice(0)];
    this.#resumeWake = this.#acceptWake = null;
    for (const wake of wakes) wake?.();
    this.#ready = [];
    // Hand the streams back so the conn's own close() can end them its way.
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#resolveClosed();
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new ClosedError("smux connection");
}
