/**
 * A {@link PacketConn} over a UDP socket (Deno.listenDatagram, needs --unstable-net).
 *
 * @module
 */
import { HostPortAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import type { Addr, Packet, PacketConn } from "./types.ts";
import { packetSlab } from "./slab.ts";
import { setUdpSocketBuffers } from "./sockopt.ts";

// Implementation constants.
/** Receive buffer: the largest UDP payload, reused between reads (each packet is copied out
 * into slab memory). */
const RECV_BUFFER = 65536;
/** Packets waiting for the socket beyond which writeTo drops (UDP semantics). */
const SEND_QUEUE = 4096;

const noop = () => {};

export class UdpPacketConn implements PacketConn {
  readonly localAddr: HostPortAddr;
  #conn: Deno.DatagramConn;
  #buf = new Uint8Array(RECV_BUFFER);
  #reading = false;
  #closed = false;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  /** SO_RCVBUF as the kernel reports it after listen({socketBuffer}), or null if unchanged. */
  socketBuffer: number | null = null;
  /** Packets dropped because SEND_QUEUE packets were waiting for the socket. */
  sendDrops = 0;

  constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    this.localAddr = HostPortAddr.from("udp", conn.addr as Deno.NetAddr);
  }

  /**
   * Binds a UDP socket; port 0 picks a free one. `socketBuffer` asks for that
   * many bytes of SO_RCVBUF/SO_SNDBUF (best effort, see sockopt.ts; kcptun uses
   * 4 MiB): {@link UdpPacketConn.socketBuffer} tells what was granted.
   */
  static listen(
    hostname = "127.0.0.1",
    port = 0,
    options: { socketBuffer?: number } = {},
  ): UdpPacketConn {
    const conn = new UdpPacketConn(Deno.listenDatagram({ transport: "udp", hostname, port }));
    if (options.socketBuffer !== undefined) {
      conn.socketBuffer = setUdpSocketBuffers(conn.localAddr.port, options.socketBuffer);
    }
    return conn;
  }

  async readFrom(signal?: AbortSignal): Promise<Packet> {
    if (this.#closed) throw new ClosedError("UDP packet conn");
    signal?.throwIfAborted();
    // Concurrent reads each get their own buffer; the usual single reader reuses one.
    const own = this.#reading ? new Uint8Array(RECV_BUFFER) : this.#buf;
    const shared = own === this.#buf;
    if (shared) this.#reading = true;
    const receive = this.#conn.receive(own);
    let onAbort: (() => void) | undefined;
    try {
      const [data, addr] = signal
        ? await Promise.race([
          receive,
          new Promise<never>((_, reject) => {
            onAbort = () => reject(signal.reason);
            signal.addEventListener("abort", onAbort, { once: true });
          }),
        ])
        : await receive;
      return { data: packetSlab.copy(data), addr: HostPortAddr.from("udp", addr as Deno.NetAddr) };
    } catch (e) {
      if (this.#closed) throw new ClosedError("UDP packet conn");
      throw e;
    } finally {
      if (onAbort) signal!.removeEventListener("abort", onAbort);
      // An aborted receive stays pending in Deno and may still complete into the
      // shared buffer (and take one datagram, a loss UDP callers tolerate): swap buffers.
      if (shared) {
        if (signal?.aborted) {
          this.#buf = new Uint8Array(RECV_BUFFER);
          receive.catch(() => {});
        }
        this.#reading = false;
      }
    }
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("UDP packet conn"));
    if (!(addr instanceof HostPortAddr)) {
      return Promise.reject(new TypeError(`UDP needs a HostPortAddr, got ${addr.network} address`));
    }
    if (this.#queued >= SEND_QUEUE) {
      this.sendDrops++;
      return Promise.resolve();
    }
    // One send at a time: concurrent send ops overtake each other once the socket
    // buffer is full, and reordered packets look lost to KCP (spurious retransmissions).
    this.#queued++;
    const to: Deno.NetAddr = { transport: "udp", hostname: addr.hostname, port: addr.port };
    const sent = this.#tail.then(() => this.#conn.send(data, to)).then(() => {
      this.#queued--;
    }, (e) => {
      this.#queued--;
      throw e;
    });
    this.#tail = sent.catch(noop);
    return sent;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
