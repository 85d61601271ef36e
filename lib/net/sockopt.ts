/**
 * SO_RCVBUF / SO_SNDBUF for a Deno UDP socket, which Deno has no option for.
 * Linux only, best effort: the socket's fd is found through /proc (its inode in
 * /proc/net/udp{,6} by local port, then /proc/self/fd) and set with FFI
 * setsockopt. Needs --allow-ffi and read access to /proc; without them, or
 * anywhere else, nothing changes. The kernel caps the sizes at
 * net.core.rmem_max / wmem_max (and reports double what was asked for).
 *
 * Why: at 1400-byte packets the default 208 KiB receive buffer holds ~100
 * packets, and a KCP burst that arrives while Deno is busy overflows it.
 * kcp-go/kcptun ask for 4 MiB (--sockbuf).
 *
 * @module
 */

import { type Libc, libc } from "./libc.ts";

// Spec constants (Linux).
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;

let loaded: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return loaded;
    if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") {
      return loaded;
    }
    loaded = libc();
  } catch {
    loaded = null;
  }
  return loaded;
}

/** File descriptors in this process of UDP sockets bound to local `port`. */
function udpSocketFds(port: number): number[] {
  const suffix = ":" + port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]!.endsWith(suffix)) inodes.add(cols[9]!);
    }
  }
  const fds: number[] = [];
  if (inodes.size === 0) return fds;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/self/fd/${entry.name}`));
      if (m !== null && inodes.has(m[1]!)) fds.push(Number(entry.name));
    } catch { /* closed meanwhile */ }
  }
  return fds;
}

/** The fd of this process's one UDP socket bound to local `port`, or null (none, several, no access). */
export function socketFdOf(port: number): number | null {
  try {
    if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") {
      return null;
    }
    const fds = udpSocketFds(port);
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
    for (const fd of udpSocketFds(port)) {
      rcv = setInt(lib, fd, SO_RCVBUF, bytes);
      setInt(lib, fd, SO_SNDBUF, bytes);
    }
  } catch {
    return null;
  }
  return rcv;
}
