/**
 * Batched UDP I/O on a Deno socket's fd: recvmmsg/sendmmsg through FFI, many
 * datagrams per call and no Deno op per packet (Linux x86-64/arm64, IPv4 and
 * IPv6 sockets). The socket is non-blocking (Deno's tokio made it so): both
 * calls return at once, and the caller falls back to Deno's own async
 * receive/send to wait.
 *
 * @module
 */
import { HostPortAddr } from "./addr.ts";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "./ip_text.ts";
import { type Libc, libc } from "./libc.ts";
import { socketFdOf } from "./sockopt.ts";

// Spec constants (Linux, LP64).
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const AF_INET = 2;
const AF_INET6 = 10;
const MMSGHDR = 64; // struct mmsghdr: msghdr (56) + msg_len (4) + padding
const IOVEC = 16;
const SOCKADDR_IN = 16;
const SOCKADDR_IN6 = 28;

// Implementation constants.
/** Datagrams per call. */
export const MMSG_BATCH = 64;
/** Bytes per address slot: room for a sockaddr_in6. */
const NAME = SOCKADDR_IN6;

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

/**
 * Fixed arrays of `batch` message headers, iovecs, address slots (28 bytes
 * each) and data slots (`slot` bytes each), wired once: what a sendmmsg or
 * recvmmsg call reads and fills.
 */
export class MmsgVectors {
  readonly hdr: Uint8Array;
  readonly hdr32: Uint32Array;
  readonly names: Uint8Array;
  readonly iov: Uint8Array;
  readonly iov32: Uint32Array;
  readonly slots: Uint8Array;

  constructor(readonly slot: number, readonly batch = MMSG_BATCH) {
    this.hdr = new Uint8Array(batch * MMSGHDR);
    this.hdr32 = new Uint32Array(this.hdr.buffer);
    this.names = new Uint8Array(batch * NAME);
    this.iov = new Uint8Array(batch * IOVEC);
    this.iov32 = new Uint32Array(this.iov.buffer);
    this.slots = new Uint8Array(batch * slot);
    const [namesLo, namesHi] = addressOf(this.names);
    const [iovLo, iovHi] = addressOf(this.iov);
    const [slotsLo, slotsHi] = addressOf(this.slots);
    for (let i = 0; i < batch; i++) {
      const h = (i * MMSGHDR) / 4;
      setAddr(this.hdr32, h, namesLo, namesHi, i * NAME); // msg_name
      this.hdr32[h + 2] = NAME; // msg_namelen
      setAddr(this.hdr32, h + 4, iovLo, iovHi, i * IOVEC); // msg_iov
      this.hdr32[h + 6] = 1; // msg_iovlen
      const v = (i * IOVEC) / 4;
      setAddr(this.iov32, v, slotsLo, slotsHi, i * slot); // iov_base
      this.iov32[v + 2] = slot; // iov_len
    }
  }

  /** Message `i`'s address: `name` (a sockaddr_in or sockaddr_in6). */
  setName(i: number, name: Uint8Array): void {
    this.names.set(name, i * NAME);
    this.hdr32[(i * MMSGHDR) / 4 + 2] = name.length;
  }

  /** Message `i`'s data: the first `length` bytes of its slot. */
  setLength(i: number, length: number): void {
    this.iov32[(i * IOVEC) / 4 + 2] = length;
  }
}

function setAddr(a: Uint32Array, at: number, lo: number, hi: number, offset: number): void {
  const sum = lo + offset;
  a[at] = sum >>> 0;
  a[at + 1] = hi + (sum > 0xffffffff ? 1 : 0);
}

/**
 * A datagram to send: its bytes and its destination as a sockaddr
 * ({@link sockaddrOf}; null for one that only Deno's send can take, never
 * passed to {@link MmsgSocket.send}).
 */
export interface MmsgOutgoing {
  data: Uint8Array;
  name: Uint8Array | null;
}

/**
 * `host`:`port` as the sockaddr a socket of `family` sends to, or null when it
 * cannot (a name, a zone, IPv6 on an IPv4 socket). An IPv6 socket reaches an
 * IPv4 host at its IPv4-mapped address.
 */
export function sockaddrOf(host: string, port: number, family: "ipv4" | "ipv6"): Uint8Array | null {
  const v4 = parseIpv4(host);
  if (family === "ipv4") {
    if (v4 === null) return null;
    const b = new Uint8Array(SOCKADDR_IN);
    b[0] = AF_INET;
    b[2] = port >>> 8;
    b[3] = port & 0xff;
    new DataView(b.buffer).setUint32(4, v4);
    return b;
  }
  const v6 = v4 === null ? parseIpv6(host) : parseIpv6(`::ffff:${host}`);
  if (v6 === null) return null;
  const b = new Uint8Array(SOCKADDR_IN6);
  b[0] = AF_INET6;
  b[2] = port >>> 8;
  b[3] = port & 0xff;
  b.set(v6, 8);
  return b;
}

export class MmsgSocket {
  #lib: Libc;
  #fd: number;
  #rx: MmsgVectors;
  #tx: MmsgVectors;
  #last = new Uint8Array(NAME);
  #lastLength = 0;
  #lastAddr: HostPortAddr | null = null;
  /** Datagrams longer than the slot were cut short by the kernel and dropped. */
  truncated = 0;

  private constructor(lib: Libc, fd: number, slot: number, readonly family: "ipv4" | "ipv6") {
    this.#lib = lib;
    this.#fd = fd;
    this.#rx = new MmsgVectors(slot);
    this.#tx = new MmsgVectors(slot);
  }

  /** Batched I/O on the UDP socket of `family` bound to local `port`, or null where unavailable. */
  static open(port: number, slot: number, family: "ipv4" | "ipv6"): MmsgSocket | null {
    const l = loadLib();
    if (l === null) return null;
    const fd = socketFdOf(port);
    return fd === null ? null : new MmsgSocket(l, fd, slot, family);
  }

  get slot(): number {
    return this.#rx.slot;
  }

  /**
   * Takes the datagrams waiting in the socket (up to MMSG_BATCH) and passes each
   * to `each` with its index (its data is a view into a slot reused by the next
   * call; {@link source} tells where it came from). Returns how many were
   * taken; 0 when none wait.
   */
  receive(each: (data: Uint8Array, index: number) => void): number {
    const rx = this.#rx;
    for (let i = 0; i < MMSG_BATCH; i++) rx.hdr32[(i * MMSGHDR) / 4 + 2] = NAME;
    const n = this.#lib.recvmmsg(this.#fd, rx.hdr, MMSG_BATCH, MSG_DONTWAIT, null);
    if (n <= 0) return 0;
    for (let i = 0; i < n; i++) {
      const h = (i * MMSGHDR) / 4;
      const len = rx.hdr32[h + 14]!; // msg_len
      const flags = rx.hdr32[h + 12]!; // msg_hdr.msg_flags
      if ((flags & MSG_TRUNC) !== 0 || len > rx.slot) {
        this.truncated++;
        continue;
      }
      each(rx.slots.subarray(i * rx.slot, i * rx.slot + len), i);
    }
    return n;
  }

  /**
   * The source of datagram `index` of the last {@link receive}, as Deno's
   * receive would name it; the same object while the source repeats.
   */
  source(index: number): HostPortAddr {
    const names = this.#rx.names;
    const a = index * NAME;
    // Family, port (and for IPv6 flow info) and address: the bytes that name a source.
    const length = (names[a]! | (names[a + 1]! << 8)) === AF_INET6 ? 24 : 8;
    const last = this.#last;
    let same = this.#lastAddr !== null && length === this.#lastLength;
    for (let i = 0; same && i < length; i++) same = names[a + i] === last[i];
    if (same) return this.#lastAddr!;
    last.set(names.subarray(a, a + length));
    this.#lastLength = length;
    const port = (names[a + 2]! << 8) | names[a + 3]!;
    const host = length === 24 ? formatIpv6(names, a + 8) : formatIpv4(
      ((names[a + 4]! << 24) | (names[a + 5]! << 16) | (names[a + 6]! << 8) | names[a + 7]!) >>>
        0,
    );
    return (this.#lastAddr = new HostPortAddr("udp", host, port));
  }

  /**
   * Sends `count` (at most MMSG_BATCH) of `packets` from index `from` (each at
   * most `slot` bytes) in order, and returns how many went out before the
   * socket buffer filled (or an error stopped it).
   */
  send(packets: readonly MmsgOutgoing[], from: number, count: number): number {
    const tx = this.#tx;
    for (let i = 0; i < count; i++) {
      const p = packets[from + i]!;
      tx.slots.set(p.data, i * tx.slot);
      tx.setLength(i, p.data.length);
      tx.setName(i, p.name!);
    }
    const n = this.#lib.sendmmsg(this.#fd, tx.hdr, count, MSG_DONTWAIT);
    return n < 0 ? 0 : n;
  }
}
