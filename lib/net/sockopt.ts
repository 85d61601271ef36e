/**
 * Socket options Deno has no API for: SO_RCVBUF / SO_SNDBUF for a UDP socket,
 * TCP_NODELAY for the TCP socket under a WebSocket Deno dialled, and TCP_NOTSENT_LOWAT
 * for a listening TCP socket (its connections inherit it).
 * Linux only, best effort: the socket's fd is found by asking each open fd for
 * its type and local or peer address (getsockname/getpeername: no /proc, which
 * Deno opens only to --allow-all) and set with FFI setsockopt. Needs --allow-ffi; without it, or
 * anywhere else, nothing changes. The kernel caps the sizes at
 * net.core.rmem_max / wmem_max (and reports double what was asked for).
 *
 * Why: at 1400-byte packets the default 208 KiB receive buffer holds ~100
 * packets, and a KCP burst that arrives while Deno is busy overflows it.
 * kcp-go/kcptun ask for 4 MiB (--sockbuf).
 *
 * @module
 */

import { errno, type Libc, libc } from "./libc.ts";

// Spec constants (Linux).
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_TYPE = 3;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const TCP_NOTSENT_LOWAT = 25;
const AF_INET = 2;
const AF_INET6 = 10;
const EBADF = 9;

let loaded: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return loaded;
    loaded = libc();
  } catch {
    loaded = null;
  }
  return loaded;
}

/**
 * File descriptors in this process of IPv4/IPv6 sockets of `sockType` whose local (or, with
 * `peer`, remote) port is `port`.
 */
function socketFds(lib: Libc, sockType: number, port: number, peer = false): number[] {
  const fds: number[] = [];
  const name = new Uint8Array(128);
  const len = new Uint32Array(1);
  const type = new Int32Array(1);
  const typeLen = new Uint32Array(1);
  let misses = 0;
  // Fds are handed out lowest first: after 1024 unused numbers in a row there are no more.
  for (let fd = 3; misses < 1024; fd++) {
    len[0] = name.length;
    const named = peer
      ? lib.getpeername(fd, name, new Uint8Array(len.buffer))
      : lib.getsockname(fd, name, new Uint8Array(len.buffer));
    if (named !== 0) {
      if (errno() === EBADF) misses++;
      continue;
    }
    misses = 0;
    const family = name[0]! | (name[1]! << 8);
    if (family !== AF_INET && family !== AF_INET6) continue;
    if (((name[2]! << 8) | name[3]!) !== port) continue;
    typeLen[0] = 4;
    lib.getsockopt(
      fd,
      SOL_SOCKET,
      SO_TYPE,
      new Uint8Array(type.buffer),
      new Uint8Array(typeLen.buffer),
    );
    if (type[0] === sockType) fds.push(fd);
  }
  return fds;
}

/** The fd of this process's one UDP socket bound to local `port`, or null (none, several, no access). */
export function socketFdOf(port: number): number | null {
  const lib = loadLibc();
  if (lib === null) return null;
  try {
    const fds = socketFds(lib, SOCK_DGRAM, port);
    return fds.length === 1 ? fds[0]! : null;
  } catch {
    return null;
  }
}

function setInt(lib: Libc, fd: number, opt: number, v: number) {
  lib.setsockopt(fd, SOL_SOCKET, opt, new Uint8Array(new Int32Array([v]).buffer), 4);
  const out = new Int32Array(1);
  const len = new Uint32Array([4]);
  lib.getsockopt(
    fd,
    SOL_SOCKET,
    opt,
    new Uint8Array(out.buffer),
    new Uint8Array(len.buffer),
  );
  return out[0]!;
}

/**
 * Asks for `bytes` of receive and send buffer on the UDP socket bound to local
 * `port`. Returns the receive buffer the kernel reports, or null if it could
 * not be set (no permission, not Linux, socket not found).
 */
export function setUdpSocketBuffers(port: number, bytes: number): number | null {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 0x7fffffff) {
    throw new RangeError(`socket buffer ${bytes} is out of range`);
  }
  const lib = loadLibc();
  if (lib === null) return null;
  let rcv: number | null = null;
  try {
    for (const fd of socketFds(lib, SOCK_DGRAM, port)) {
      rcv = setInt(lib, fd, SO_RCVBUF, bytes);
      setInt(lib, fd, SO_SNDBUF, bytes);
    }
  } catch {
    return null;
  }
  return rcv;
}

/**
 * Turns Nagle's algorithm off (TCP_NODELAY) on every TCP socket of this process connected to
 * remote `port`; their number, or null without FFI. For Deno's WebSocket client, which leaves
 * Nagle on: a small message sent while the previous one is unacknowledged then waits for the
 * peer's delayed ACK, ~40 ms (Go and browsers turn Nagle off). Harmless on any other socket.
 */
export function setTcpNoDelayToPort(port: number): number | null {
  const lib = loadLibc();
  if (lib === null) return null;
  try {
    const fds = socketFds(lib, SOCK_STREAM, port, true);
    const one = new Uint8Array(new Int32Array([1]).buffer);
    for (const fd of fds) lib.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4);
    return fds.length;
  } catch {
    return null;
  }
}

/**
 * Sets TCP_NOTSENT_LOWAT to `bytes` on every TCP socket of this process bound to local `port`
 * (set on a listener before it accepts, every connection it accepts inherits it); their
 * number, or null without FFI. The kernel then takes a write only while less than `bytes` of
 * what was written before waits unsent (bytes in flight do not count, so throughput is
 * unchanged): a peer that stops reading, whose window closed, stops the writer after `bytes`
 * instead of after a send buffer autotuned to MBs.
 */
export function setTcpNotSentLowat(port: number, bytes: number): number | null {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 0x7fffffff) {
    throw new RangeError(`TCP_NOTSENT_LOWAT ${bytes} is out of range`);
  }
  const lib = loadLibc();
  if (lib === null) return null;
  try {
    const fds = socketFds(lib, SOCK_STREAM, port);
    const v = new Uint8Array(new Int32Array([bytes]).buffer);
    for (const fd of fds) lib.setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, v, 4);
    return fds.length;
  } catch {
    return null;
  }
}
