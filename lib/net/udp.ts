/**
 * A {@link PacketConn} over a UDP socket (Deno.listenDatagram, needs --unstable-net).
 *
 * @module
 */
import { HostPortAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import type { Addr, Packet, PacketConn, PacketScreen } from "./types.ts";
import { packetSlab } from "./slab.ts";
import { setUdpSocketBuffers } from "./sockopt.ts";
import { MMSG_BATCH, MmsgSocket, sockaddrOf } from "./mmsg.ts";

// Implementation constants.
/** Receive buffer: the largest UDP payload, reused between reads (each packet is copied out
 * into slab memory). */
const RECV_BUFFER = 65536;
/** Packets waiting for the socket beyond which writeTo drops (UDP semantics). */
const SEND_QUEUE = 4096;

const noop = () => {};
const RESOLVED = Promise.resolve();

export interface UdpListenOptions {
  /** Ask for this many bytes of SO_RCVBUF and SO_SNDBUF (best effort, see sockopt.ts). */
  socketBuffer?: number;
  /**
   * Batched I/O with recvmmsg/sendmmsg through FFI (Linux, IPv4 and IPv6,
   * needs --allow-ffi; otherwise ignored): far less CPU per packet. Received
   * datagrams longer than `maxPacket` (default 2048) are dropped, and writeTo
   * resolves once a packet is queued.
   */
  batch?: { maxPacket?: number };
}

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
  /** Batched mode: sends that failed (the caller was already told they were queued). */
  sendErrors = 0;
  // Batched mode (listen({batch})): received packets not yet read, and the send queue.
  #mmsg: MmsgSocket | null = null;
  #rxq: Packet[] = [];
  #rxHead = 0;
  #txq: { data: Uint8Array; addr: HostPortAddr; name: Uint8Array | null }[] = [];
  #txHead = 0;
  #txBusy = false;
  #txAddr: HostPortAddr | null = null;
  #txName: Uint8Array | null = null;
  #names = new WeakMap<HostPortAddr, Uint8Array | null>();
  #rxIndex = 0;
  /**
   * Batched mode: a look at each datagram before it is copied or its source
   * made into an address; false drops it (the screen counts it).
   */
  screen: PacketScreen | null = null;

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
    options: UdpListenOptions = {},
  ): UdpPacketConn {
    const conn = new UdpPacketConn(Deno.listenDatagram({ transport: "udp", hostname, port }));
    if (options.socketBuffer !== undefined) {
      conn.socketBuffer = setUdpSocketBuffers(conn.localAddr.port, options.socketBuffer);
    }
    if (options.batch !== undefined) {
      const slot = options.batch.maxPacket ?? 2048;
      if (!Number.isInteger(slot) || slot < 1 || slot > 65535) {
        throw new RangeError(`maxPacket ${slot} is out of range`);
      }
      const family = conn.localAddr.hostname.includes(":") ? "ipv6" : "ipv4";
      conn.#mmsg = MmsgSocket.open(conn.localAddr.port, slot, family);
    }
    return conn;
  }

  /** True when batched I/O (recvmmsg/sendmmsg) is in use. */
  get batched(): boolean {
    return this.#mmsg !== null;
  }

  /** Datagrams dropped on receive because they were longer than batch.maxPacket. */
  get truncated(): number {
    return this.#mmsg?.truncated ?? 0;
  }

  async readFrom(signal?: AbortSignal): Promise<Packet> {
    for (;;) {
      if (this.#closed) throw new ClosedError("UDP packet conn");
      signal?.throwIfAborted();
      if (this.#mmsg !== null) {
        if (this.#rxHead === this.#rxq.length) this.#fillBatch();
        if (this.#rxHead < this.#rxq.length) return this.#nextBatched();
      }
      const p = await this.#receiveOne(signal);
      if (p !== null) return p;
    }
  }

  /** One datagram through Deno's receive, which waits for it; null if the screen refused it. */
  async #receiveOne(signal?: AbortSignal): Promise<Packet | null> {
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
      const from = HostPortAddr.from("udp", addr as Deno.NetAddr);
      if (this.screen !== null && !this.screen(data, () => from)) return null;
      return { data: packetSlab.copy(data), addr: from };
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

  #fillBatch(): void {
    this.#rxq.length = 0;
    this.#rxHead = 0;
    this.#mmsg!.receive(this.#onBatched);
  }

  #onBatched = (data: Uint8Array, index: number): void => {
    this.#rxIndex = index;
    if (this.screen !== null && !this.screen(data, this.#rxSource)) return;
    this.#rxq.push({ data: packetSlab.copy(data), addr: this.#mmsg!.source(index) });
  };

  #rxSource = (): HostPortAddr => this.#mmsg!.source(this.#rxIndex);

  #nextBatched(): Packet {
    const p = this.#rxq[this.#rxHead]!;
    this.#rxq[this.#rxHead++] = undefined!;
    return p;
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("UDP packet conn"));
    if (!(addr instanceof HostPortAddr)) {
      return Promise.reject(new TypeError(`UDP needs a HostPortAddr, got ${addr.network} address`));
    }
    if (this.#mmsg !== null) return this.#queueBatched(data, addr);
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

  #queueBatched(data: Uint8Array, addr: HostPortAddr): Promise<void> {
    if (this.#txq.length - this.#txHead >= SEND_QUEUE) {
      this.sendDrops++;
      return RESOLVED;
    }
    if (addr !== this.#txAddr) {
      let name = this.#names.get(addr);
      if (name === undefined) {
        name = sockaddrOf(addr.hostname, addr.port, this.#mmsg!.family);
        this.#names.set(addr, name);
      }
      this.#txAddr = addr;
      this.#txName = name;
    }
    this.#txq.push({ data, addr, name: this.#txName });
    if (!this.#txBusy) {
      this.#txBusy = true;
      queueMicrotask(this.#pumpBatched);
    }
    return RESOLVED;
  }

  /**
   * Sends the queue in order: runs of packets with a sockaddr that fit a slot go out with
   * sendmmsg; when the socket buffer is full, or for any other packet, one Deno
   * send (which waits for the socket) goes first and the pump resumes after it.
   */
  #pumpBatched = (): void => {
    const q = this.#txq;
    const mmsg = this.#mmsg!;
    while (this.#txHead < q.length && !this.#closed) {
      let run = 0;
      while (
        this.#txHead + run < q.length && run < MMSG_BATCH &&
        q[this.#txHead + run]!.name !== null && q[this.#txHead + run]!.data.length <= mmsg.slot
      ) run++;
      if (run > 0) {
        const n = mmsg.send(q, this.#txHead, run);
        for (let i = 0; i < n; i++) q[this.#txHead + i] = undefined!;
        this.#txHead += n;
        if (n === run) continue;
      }
      const p = q[this.#txHead]!;
      q[this.#txHead++] = undefined!;
      const to: Deno.NetAddr = { transport: "udp", hostname: p.addr.hostname, port: p.addr.port };
      this.#conn.send(p.data, to).catch(() => this.sendErrors++).finally(this.#pumpBatched);
      return;
    }
    q.length = 0;
    this.#txHead = 0;
    this.#txBusy = false;
  };

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
