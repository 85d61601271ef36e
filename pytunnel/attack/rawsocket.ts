/**
 * A raw IPv4 socket (socket(AF_INET, SOCK_RAW, IPPROTO_RAW) with IP_HDRINCL)
 * through Deno FFI, for sending hand-built packets with any source address.
 * Needs root or CAP_NET_RAW.
 *
 * @module
 */

import { errno, libc as lib, strerror } from "../../lib/net/libc.ts";
import type { MmsgVectors } from "../../lib/net/mmsg.ts";

const AF_INET = 2;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const IPPROTO_IP = 0;
const IPPROTO_RAW = 255;
const IP_HDRINCL = 3;
const EPERM = 1;
const EACCES = 13;
const ENOBUFS = 105;
const EAGAIN = 11;
const MSG_DONTWAIT = 0x40;

/** A raw socket that sends complete IPv4 packets. */
export class RawIPv4Socket {
  #fd: number;
  #addr = new Uint8Array(16);

  private constructor(fd: number) {
    this.#fd = fd;
    new DataView(this.#addr.buffer).setUint16(0, AF_INET, true);
  }

  /** Opens the socket; throws an Error with a plain explanation when not permitted. */
  static open(): RawIPv4Socket {
    const c = lib();
    const fd = c.socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
      const e = errno();
      if (e === EPERM || e === EACCES) {
        throw new Error("raw sockets need root or CAP_NET_RAW");
      }
      throw new Error(`socket(AF_INET, SOCK_RAW): ${strerror(e)}`);
    }
    const one = new Uint8Array(4);
    new DataView(one.buffer).setInt32(0, 1, true);
    if (c.setsockopt(fd, IPPROTO_IP, IP_HDRINCL, one, 4) < 0) {
      const e = errno();
      c.close(fd);
      throw new Error(`setsockopt(IP_HDRINCL): ${strerror(e)}`);
    }
    return new RawIPv4Socket(fd);
  }

  /**
   * Sends one packet to the destination in its header. Returns false when the
   * kernel's queue is full (the caller may retry), throws on other errors.
   */
  send(packet: Uint8Array): boolean {
    // sockaddr_in: family, port (ignored for raw), address in network order.
    this.#addr.set(packet.subarray(16, 20), 4);
    const n = Number(lib().sendto(this.#fd, packet, BigInt(packet.length), 0, this.#addr, 16));
    if (n >= 0) return true;
    const e = errno();
    if (e === ENOBUFS || e === EAGAIN) return false;
    throw new Error(`sendto: ${strerror(e)}`);
  }

  /**
   * Sends the first `count` messages of `batch` with one sendmmsg (their
   * names: sockaddr_in of each destination). Returns how many the kernel took
   * before its queue filled (0 when full at once), throws on other errors.
   */
  sendBatch(batch: MmsgVectors, count: number): number {
    const n = lib().sendmmsg(this.#fd, batch.hdr, count, MSG_DONTWAIT);
    if (n >= 0) return n;
    const e = errno();
    if (e === ENOBUFS || e === EAGAIN) return 0;
    throw new Error(`sendmmsg: ${strerror(e)}`);
  }

  close(): void {
    lib().close(this.#fd);
  }
}
