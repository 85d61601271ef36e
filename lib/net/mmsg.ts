/**
 * Batched UDP I/O on a Deno socket's fd: recvmmsg/sendmmsg through FFI, many
 * datagrams per call and no Deno op per packet (Linux x86-64/arm64, IPv4).
 * The socket is non-blocking (Deno's tokio made it so): both calls return at
 * once, and the caller falls back to Deno's own async receive/send to wait.
 *
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { socketFdOf } from "./sockopt.ts";

// Spec constants (Linux, LP64).
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const AF_INET = 2;
const MMSGHDR = 64; // struct mmsghdr: msghdr (56) + msg_len (4) + padding
const IOVEC = 16;
const SOCKADDR_IN = 16;

// Implementation constants.
/** Datagrams per call. */
export const MMSG_BATCH = 64;

let lib: Libc | null | undefined;

function loadLib(): Libc | null {
  if (lib !== undefined) return lib;
  lib = null;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return lib;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
      lib = libc();
    }
  } catch {
    lib = null;
  }
  return lib;
}

/** Address of the first byte of `buf` as [low, high] u32 halves. */
function addressOf(buf: Uint8Array): [number, number] {
  const v = Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>));
  const n = BigInt(v);
  return [Number(n & 0xffffffffn), Number(n >> 32n)];
}

/** Fixed arrays of headers, iovecs, addresses and slots, wired once. */
class Vectors {
  readonly hdr = new Uint8Array(MMSG_BATCH * MMSGHDR);
  readonly hdr32 = new Uint32Array(this.hdr.buffer);
  readonly names = new Uint8Array(MMSG_BATCH * SOCKADDR_IN);
  readonly iov = new Uint8Array(MMSG_BATCH * IOVEC);
  readonly iov32 = new Uint32Array(this.iov.buffer);
  readonly slots: Uint8Array;

  constructor(readonly slot: number) {
    this.slots = new Uint8Array(MMSG_BATCH * slot);
    const [namesLo, namesHi] = addressOf(this.names);
    const [iovLo, iovHi] = addressOf(this.iov);
    const [slotsLo, slotsHi] = addressOf(this.slots);
    for (let i = 0; i < MMSG_BATCH; i++) {
      const h = (i * MMSGHDR) / 4;
      setAddr(this.hdr32, h, namesLo, namesHi, i * SOCKADDR_IN); // msg_name
      this.hdr32[h + 2] = SOCKADDR_IN; // msg_namelen
      setAddr(this.hdr32, h + 4, iovLo, iovHi, i * IOVEC); // msg_iov
      this.hdr32[h + 6] = 1; // msg_iovlen
      const v = (i * IOVEC) / 4;
      setAddr(this.iov32, v, slotsLo, slotsHi, i * slot); // iov_base
      this.iov32[v + 2] = slot; // iov_len
    }
  }
}

function setAddr(a: Uint32Array, at: number, lo: number, hi: number, offset: number): void {
  const sum = lo + offset;
  a[at] = sum >>> 0;
  a[at + 1] = hi + (sum > 0xffffffff ? 1 : 0);
}

/** A received datagram: its bytes (a view the caller must copy) and IPv4 source. */
export interface MmsgPacket {
  data: Uint8Array;
  ip: number;
  port: number;
}

export class MmsgSocket {
  #lib: Libc;
  #fd: number;
  #rx: Vectors;
  #tx: Vectors;
  /** Datagrams longer than the slot were cut short by the kernel and dropped. */
  truncated = 0;

  private constructor(lib: Libc, fd: number, slot: number) {
    this.#lib = lib;
    this.#fd = fd;
    this.#rx = new Vectors(slot);
    this.#tx = new Vectors(slot);
  }

  /** Batched I/O on the UDP socket bound to local `port`, or null where unavailable. */
  static open(port: number, slot: number): MmsgSocket | null {
    const l = loadLib();
    if (l === null) return null;
    const fd = socketFdOf(port);
    return fd === null ? null : new MmsgSocket(l, fd, slot);
  }

  get slot(): number {
    return this.#rx.slot;
  }

  /**
   * Takes the datagrams waiting in the socket (up to MMSG_BATCH) and passes each
   * to `each` (its data is a view into a slot reused by the next call). Returns
   * how many were taken; 0 when none wait.
   */
  receive(each: (data: Uint8Array, ip: number, port: number) => void): number {
    const rx = this.#rx;
    for (let i = 0; i < MMSG_BATCH; i++) rx.hdr32[(i * MMSGHDR) / 4 + 2] = SOCKADDR_IN;
    const n = this.#lib.recvmmsg(this.#fd, rx.hdr, MMSG_BATCH, MSG_DONTWAIT, null);
    if (n <= 0) return 0;
    const names = rx.names;
    for (let i = 0; i < n; i++) {
      const h = (i * MMSGHDR) / 4;
      const len = rx.hdr32[h + 14]!; // msg_len
      const flags = rx.hdr32[h + 12]!; // msg_hdr.msg_flags
      if ((flags & MSG_TRUNC) !== 0 || len > rx.slot) {
        this.truncated++;
        continue;
      }
      const a = i * SOCKADDR_IN;
      if ((names[a]! | (names[a + 1]! << 8)) !== AF_INET) continue;
      const port = (names[a + 2]! << 8) | names[a + 3]!;
      const ip = ((names[a + 4]! << 24) | (names[a + 5]! << 16) | (names[a + 6]! << 8) |
        names[a + 7]!) >>> 0;
      each(rx.slots.subarray(i * rx.slot, i * rx.slot + len), ip, port);
    }
    return n;
  }

  /**
   * Sends `count` (at most MMSG_BATCH) of `packets` from index `from` (each at
   * most `slot` bytes, to IPv4 `ip`:`port`) in order, and returns how many went
   * out before the socket buffer filled (or an error stopped it).
   */
  send(
    packets: readonly { data: Uint8Array; ip: number; port: number }[],
    from: number,
    count: number,
  ): number {
    const tx = this.#tx;
    for (let i = 0; i < count; i++) {
      const p = packets[from + i]!;
      tx.slots.set(p.data, i * tx.slot);
      tx.iov32[(i * IOVEC) / 4 + 2] = p.data.length;
      const a = i * SOCKADDR_IN;
      const names = tx.names;
      names[a] = AF_INET;
      names[a + 1] = 0;
      names[a + 2] = p.port >>> 8;
      names[a + 3] = p.port & 0xff;
      names[a + 4] = p.ip >>> 24;
      names[a + 5] = (p.ip >>> 16) & 0xff;
      names[a + 6] = (p.ip >>> 8) & 0xff;
      names[a + 7] = p.ip & 0xff;
    }
    const n = this.#lib.sendmmsg(this.#fd, tx.hdr, count, MSG_DONTWAIT);
    return n < 0 ? 0 : n;
  }
}

/** Dotted IPv4 to a u32, or null for anything else (IPv6, names). */
export function parseIpv4(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const b = Number(p);
    if (b > 255) return null;
    v = v * 256 + b;
  }
  return v;
}

/** A u32 IPv4 address in dotted form. */
export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}
