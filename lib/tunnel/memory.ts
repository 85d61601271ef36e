/**
 * In-memory twins for running a server and clients in one process without
 * root: a TUN pair (the "kernel" side and the device side) and a UDP-like
 * network with host:port addresses, spoofable sources and rebinding (roaming).
 *
 * @module
 */

import { HostPortAddr } from "../net/addr.ts";
import { ClosedError } from "../net/errors.ts";
import { AsyncQueue } from "../net/queue.ts";
import type { Addr, Packet, PacketConn } from "../net/types.ts";
import type { TunDevice } from "./types.ts";

/** One end of a {@link memoryTunPair}: what one end writes, the other reads. */
export class TunnelMemoryTun implements TunDevice {
  readonly inbox: AsyncQueue<Uint8Array>;
  peer: TunnelMemoryTun | null = null;

  constructor(readonly name: string, readonly mtu: number, capacity = 4096) {
    this.inbox = new AsyncQueue(capacity);
  }

  read(signal?: AbortSignal): Promise<Uint8Array> {
    return this.inbox.shift(signal);
  }

  /** Delivers to the peer; a full peer queue drops, like a busy interface. */
  write(packet: Uint8Array): Promise<void> {
    if (this.inbox.closed) return Promise.reject(new ClosedError(`tun ${this.name}`));
    this.peer?.inbox.push(packet);
    return Promise.resolve();
  }

  close(): void {
    this.inbox.close(new ClosedError(`tun ${this.name}`));
  }
}

/**
 * A TUN device and its host side: give `device` to the tunnel core; the test
 * writes what the OS would send into `host` and reads what the core delivers.
 */
export function memoryTunPair(
  name = "mtun0",
  mtu = 1420,
): { device: TunnelMemoryTun; host: TunnelMemoryTun } {
  const device = new TunnelMemoryTun(name, mtu);
  const host = new TunnelMemoryTun(`${name}-host`, mtu);
  device.peer = host;
  host.peer = device;
  return { device, host };
}

/** A socket on a {@link TunnelMemoryNetwork}. */
export class TunnelMemoryEndpoint implements PacketConn {
  readonly inbox = new AsyncQueue<Packet>(8192);
  #net: TunnelMemoryNetwork;
  #addr: HostPortAddr;

  constructor(net: TunnelMemoryNetwork, addr: HostPortAddr) {
    this.#net = net;
    this.#addr = addr;
  }

  get localAddr(): HostPortAddr {
    return this.#addr;
  }

  readFrom(signal?: AbortSignal): Promise<Packet> {
    return this.inbox.shift(signal);
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    if (this.inbox.closed) return Promise.reject(new ClosedError("memory endpoint"));
    this.#net.deliver(data, this.#addr, addr);
    return Promise.resolve();
  }

  /** Moves this socket to a new port: later packets leave from (and arrive at) it. */
  rebind(port: number): void {
    this.#net.move(this, this.#addr, new HostPortAddr("udp", this.#addr.hostname, port));
  }

  /** @internal */
  setAddr(a: HostPortAddr): void {
    this.#addr = a;
  }

  close(): void {
    this.#net.remove(this.#addr);
    this.inbox.close(new ClosedError("memory endpoint"));
  }
}

/** A lossless switch between memory endpoints keyed by "host:port". */
export class TunnelMemoryNetwork {
  #endpoints = new Map<string, TunnelMemoryEndpoint>();
  /** Packets addressed to nobody, or refused by a full inbox. */
  dropped = 0;
  /** Called with every packet before delivery; return false to drop it (captures, tampering). */
  tap: ((data: Uint8Array, from: Addr, to: Addr) => boolean) | null = null;

  bind(host: string, port: number): TunnelMemoryEndpoint {
    const a = new HostPortAddr("udp", host, port);
    if (this.#endpoints.has(a.toString())) throw new RangeError(`${a} is already bound`);
    const e = new TunnelMemoryEndpoint(this, a);
    this.#endpoints.set(a.toString(), e);
    return e;
  }

  /** Sends a packet with any source address (spoofing, replays). */
  deliver(data: Uint8Array, from: Addr, to: Addr): void {
    if (this.tap && !this.tap(data, from, to)) return;
    const e = this.#endpoints.get(to.toString());
    if (!e || !e.inbox.push({ data: data.slice(), addr: from })) this.dropped++;
  }

  /** @internal */
  move(e: TunnelMemoryEndpoint, from: HostPortAddr, to: HostPortAddr): void {
    if (this.#endpoints.has(to.toString())) throw new RangeError(`${to} is already bound`);
    this.#endpoints.delete(from.toString());
    this.#endpoints.set(to.toString(), e);
    e.setAddr(to);
  }

  /** @internal */
  remove(a: Addr): void {
    this.#endpoints.delete(a.toString());
  }
}
