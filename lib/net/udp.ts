/**
 * A {@link PacketConn} over a UDP socket (Deno.listenDatagram, needs --unstable-net).
 *
 * @module
 */
import { HostPortAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import type { Addr, Packet, PacketConn } from "./types.ts";
import { packetSlab } from "./slab.ts";

// Implementation constants.
/** Receive buffer: the largest UDP payload, reused between reads (each packet is copied out
 * into slab memory). */
const RECV_BUFFER = 65536;

export class UdpPacketConn implements PacketConn {
  readonly localAddr: HostPortAddr;
  #conn: Deno.DatagramConn;
  #buf = new Uint8Array(RECV_BUFFER);
  #reading = false;
  #closed = false;

  constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    this.localAddr = HostPortAddr.from("udp", conn.addr as Deno.NetAddr);
  }

  /** Binds a UDP socket; port 0 picks a free one. */
  static listen(hostname = "127.0.0.1", port = 0): UdpPacketConn {
    return new UdpPacketConn(Deno.listenDatagram({ transport: "udp", hostname, port }));
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
    return this.#conn.send(data, { transport: "udp", hostname: addr.hostname, port: addr.port })
      .then(() => {});
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
