/**
 * The interfaces every layer is written against, so that a layer never knows
 * whether it runs over UDP, a WebRTC data channel, a WebSocket or a memory twin.
 *
 * @module
 */

/** A network address. `toString()` is what logs (after scrubbing) and maps key on. */
export interface Addr {
  readonly network: string;
  toString(): string;
}

/** One received packet and where it came from. */
export interface Packet {
  data: Uint8Array;
  addr: Addr;
}

/**
 * A datagram endpoint: what KCP runs over, and what Turbo Tunnel produces.
 * `readFrom` rejects with {@link ClosedError} once the conn is closed.
 * `writeTo` never waits for the peer: a full queue drops, like UDP.
 */
export interface PacketConn {
  readonly localAddr: Addr;
  readFrom(signal?: AbortSignal): Promise<Packet>;
  writeTo(data: Uint8Array, addr: Addr): Promise<void>;
  close(): void;
}

/**
 * A cheap look at a received datagram before it costs anything more: `data` is
 * a view valid only during the call, `source()` makes its sender's address.
 * Returns false to drop it.
 */
export type PacketScreen = (data: Uint8Array, source: () => Addr) => boolean;

/** A reliable, ordered byte stream: WebSocket, data channel, KCP session, smux stream. */
export interface Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  close(): void;
}

/**
 * A Conn's bytes without web streams: one chunk at a time each way. Much lighter per
 * connection and per chunk than a {@link Conn} (no stream objects, queues or per-chunk
 * promises when data is ready), for a server holding thousands of connections
 * (docs/ARCHITECTURE.md). Adapters both ways: lib/net/chunk_link.ts.
 */
export interface ChunkLink {
  /** The next chunk, or null at a clean end; rejects on failure or once closed. */
  read(): Promise<Uint8Array | null>;
  /**
   * Sends one chunk, which the link keeps (the caller must not reuse it). Returns a promise
   * when the caller should wait before writing more (backpressure); throws once closed.
   */
  write(chunk: Uint8Array): Promise<void> | void;
  /** Closes the link; a pending read or write ends at once. */
  close(): void;
}

/** Makes new connections, e.g. to a fresh Snowflake proxy. */
export interface Dialer {
  dial(signal?: AbortSignal): Promise<Conn>;
}

/** Yields accepted connections until closed. */
export interface Listener extends AsyncIterable<Conn> {
  readonly addr: Addr;
  close(): void;
}
