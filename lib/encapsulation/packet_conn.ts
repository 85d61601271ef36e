import { AsyncQueue, ClosedError } from "../net/mod.ts";
import type { Addr, Conn, Packet, PacketConn } from "../net/mod.ts";
import { encodePacket, PacketDecoder } from "./codec.ts";

/** Options for {@link EncapsulatedPacketConn}. */
export interface EncapsulatedPacketConnOptions {
  /** Bytes already read from the conn that belong to the packet stream (after a header). */
  initial?: Uint8Array;
  /** Bytes written raw before any packet (a header such as Turbo Tunnel's token + ClientID). */
  preamble?: Uint8Array;
  /** Decoded packets buffered before the reader stops pulling from the conn. Default 512. */
  readQueue?: number;
  /** Encoded packets queued in the writable before writeTo drops. Default 512. */
  writeQueue?: number;
}

/**
 * A PacketConn over a reliable byte stream: every packet is one encapsulated chunk
 * (PROTOCOL.md §2). All packets come from and go to the one `remote` address.
 *
 * `readFrom` rejects with {@link ClosedError} after a clean EOF or close, and with the
 * decoder's SyntaxError when the stream is malformed (the conn is then closed). `writeTo`
 * does not wait for the peer: it queues the encoded packet, dropping it when `writeQueue`
 * packets are already pending, and rejects once an earlier write has failed.
 * Closing it closes the underlying Conn.
 */
export class EncapsulatedPacketConn implements PacketConn {
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  #conn: Conn;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #incoming: AsyncQueue<Packet>;
  #space: (() => void) | null = null;
  #pendingWrites = 0;
  #writeQueue: number;
  #writeError: Error | null = null;
  #closed = false;
  /** Packets dropped by writeTo because too many writes were pending. */
  writeDrops = 0;

  constructor(
    conn: Conn,
    remote: Addr = conn.remoteAddr,
    options: EncapsulatedPacketConnOptions = {},
  ) {
    this.#conn = conn;
    this.localAddr = conn.localAddr;
    this.remoteAddr = remote;
    this.#writeQueue = options.writeQueue ?? 512;
    this.#incoming = new AsyncQueue(options.readQueue ?? 512);
    this.#writer = conn.writable.getWriter();
    this.#reader = conn.readable.getReader();
    this.#writer.closed.catch((e) => this.#failWrites(e));
    if (options.preamble) this.#write(options.preamble);
    this.#pump(options.initial).catch(() => {});
  }

  async #pump(initial: Uint8Array | undefined): Promise<void> {
    const decoder = new PacketDecoder();
    try {
      if (initial && initial.length > 0) decoder.push(initial);
      for (;;) {
        for (let p = decoder.next(); p !== null; p = decoder.next()) {
          while (this.#incoming.length >= this.#incoming.capacity) {
            await new Promise<void>((r) => (this.#space = r));
            if (this.#closed) return;
          }
          this.#incoming.push({ data: p, addr: this.remoteAddr });
        }
        const { value, done } = await this.#reader.read();
        if (done) {
          decoder.end();
          break;
        }
        decoder.push(value);
      }
      this.#incoming.close(new ClosedError("encapsulated packet conn"));
    } catch (e) {
      // Malformed stream or a read error: only this conn dies.
      this.#incoming.close(e instanceof Error ? e : new ClosedError("encapsulated packet conn"));
    }
    this.#failWrites(new ClosedError("encapsulated packet conn"));
    this.#conn.close();
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    const p = this.#incoming.shift(signal);
    const wake = this.#space;
    if (wake) {
      this.#space = null;
      wake();
    }
    return p;
  }

  writeTo(data: Uint8Array, _addr: Addr): Promise<void> {
    if (this.#writeError) return Promise.reject(this.#writeError);
    if (this.#pendingWrites >= this.#writeQueue) {
      this.writeDrops++;
      return Promise.resolve();
    }
    this.#write(encodePacket(data));
    return Promise.resolve();
  }

  #write(bytes: Uint8Array): void {
    this.#pendingWrites++;
    this.#writer.write(bytes).then(
      () => this.#pendingWrites--,
      (e) => {
        this.#pendingWrites--;
        this.#failWrites(e);
      },
    );
  }

  #failWrites(e: unknown): void {
    this.#writeError ??= e instanceof Error ? e : new ClosedError("encapsulated packet conn");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failWrites(new ClosedError("encapsulated packet conn"));
    this.#incoming.close(new ClosedError("encapsulated packet conn"));
    this.#space?.();
    this.#reader.cancel().catch(() => {});
    this.#writer.abort(new ClosedError()).catch(() => {});
    this.#conn.close();
  }
}
