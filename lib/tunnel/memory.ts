/**
 * In-memory twins for running a server and clients in one process without
 * root: a TUN pair (the "kernel" side and the device side) and a UDP-like
 * network with host:port addresses, spoofable sources and rebinding (roaming).
 *
 * @module
 */

import { HostPortAddr } from "../net/addr.ts";
import { ClosedError } from "../net/errors.ts";
import { type MemoryPacketConn, MemorySwitch } from "../net/memory.ts";
import { AsyncQueue } from "../net/queue.ts";
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

/** A socket on a {@link TunnelMemoryNetwork}: an endpoint of lib/net's switch. */
export type TunnelMemoryEndpoint = MemoryPacketConn;

/**
 * A UDP-like network with `host:port` addresses: lib/net's {@link MemorySwitch}, with
 * endpoints bound by host and port.
 */
export class TunnelMemoryNetwork extends MemorySwitch {
  /** A socket at `host:port` (8,192-packet inbox). */
  bindHostPort(host: string, port: number): TunnelMemoryEndpoint {
    return this.bind(new HostPortAddr("udp", host, port), 8192);
  }
}
