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

/** A reliable, ordered byte stream: WebSocket, data channel, KCP session, smux stream. */
export interface Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
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
