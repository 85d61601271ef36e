/**
 * A PacketConn whose UDP socket can be replaced while in use: the client
 * rebinds to a fresh source port on SIGUSR1 (what a NAT rebinding or a network
 * change does), and the tunnel core sees one uninterrupted conn.
 *
 * @module
 */

import { ClosedError } from "../lib/net/errors.ts";
import type { Addr, Packet, PacketConn } from "../lib/net/types.ts";

/** Wraps the current conn; {@link rebind} swaps it. */
export class RebindablePacketConn implements PacketConn {
  #conn: PacketConn;
  #open: () => PacketConn;
  #closed = false;

  constructor(open: () => PacketConn) {
    this.#open = open;
    this.#conn = open();
  }

  /** The socket in use now. */
  get conn(): PacketConn {
    return this.#conn;
  }

  get localAddr(): Addr {
    return this.#conn.localAddr;
  }

  /** Opens a new socket and closes the old one; pending reads move to the new socket. */
  rebind(): Addr {
    if (this.#closed) throw new ClosedError("packet conn closed");
    const old = this.#conn;
    this.#conn = this.#open();
    old.close();
    return this.#conn.localAddr;
  }

  async readFrom(signal?: AbortSignal): Promise<Packet> {
    for (;;) {
      const conn = this.#conn;
      try {
        return await conn.readFrom(signal);
      } catch (e) {
        // The old socket was closed by a rebind: continue on the new one.
        if (!this.#closed && conn !== this.#conn && !signal?.aborted) continue;
        throw e;
      }
    }
  }

  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    return this.#conn.writeTo(data, addr);
  }

  close(): void {
    this.#closed = true;
    this.#conn.close();
  }
}
