/**
 * A Linux TUN device through Deno FFI on libc: `/dev/net/tun`, TUNSETIFF with
 * IFF_TUN | IFF_NO_PI, address and MTU set with `ip`. Needs `--allow-ffi` and
 * `--allow-run`, and root or CAP_NET_ADMIN.
 *
 * The fd is O_NONBLOCK: a read first tries the syscall directly (the fast path
 * under load) and only when the queue is empty waits in `poll` on Deno's FFI
 * thread pool, with a short timeout so that `close()` and abort signals are
 * noticed without a blocked thread holding the fd.
 *
 * @module
 */

import { ClosedError } from "../net/errors.ts";
import { packetSlab } from "../net/slab.ts";
import { errno, type Libc, libc as lib, strerror } from "../net/libc.ts";

const O_RDWR = 0x2;
const O_NONBLOCK = 0x800;
const O_CLOEXEC = 0x80000;
const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;
const POLLIN = 0x1;
const EINTR = 4;
const EAGAIN = 11;
const EPERM = 1;
const EACCES = 13;
const EBUSY = 16;
const ENOENT = 2;
const POLL_TIMEOUT_MS = 200;

/** Raised when the device cannot be created or configured; `code` is the errno if any. */
export class TunError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = "TunError";
  }
}

/** Options for {@link openTun}. */
export interface TunOptions {
  /** Interface name; the kernel picks `tunN` when omitted. At most 15 bytes. */
  name?: string;
  /** MTU to set; default 1420. */
  mtu?: number;
  /** Address with prefix to assign, e.g. `10.8.0.1/24`. */
  address?: string;
  /** IPv6 address with prefix to assign too, e.g. `fd09::1/64` (no duplicate detection wait). */
  address6?: string;
  /** Bring the link up (default true). */
  up?: boolean;
}

/** Checks an interface name the way the kernel will: 1–15 bytes, no `/`, whitespace or `:`. */
export function validateIfName(name: string): void {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ) {
    throw new RangeError(`interface name "${name}" must be 1 to ${IFNAMSIZ - 1} bytes`);
  }
  if (/[\s/:]/.test(name) || name === "." || name === "..") {
    throw new SyntaxError(`interface name "${name}" contains a forbidden character`);
  }
}

/** Builds the 40-byte `struct ifreq` for TUNSETIFF. */
export function ifreq(name: string, flags: number): Uint8Array {
  const buf = new Uint8Array(40);
  buf.set(new TextEncoder().encode(name));
  new DataView(buf.buffer).setUint16(IFNAMSIZ, flags, true);
  return buf;
}

function cstr(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

async function ip(args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  } catch (e) {
    throw new TunError(`cannot run "ip ${args.join(" ")}": ${(e as Error).message}`);
  }
  if (!out.success) {
    const msg = new TextDecoder().decode(out.stderr).trim();
    throw new TunError(`"ip ${args.join(" ")}" failed: ${msg}`);
  }
}

/** A TUN device (implements lib/tunnel's `TunDevice`). */
export class LinuxTun {
  readonly name: string;
  readonly mtu: number;
  #fd: number;
  #closed = false;
  #pollfd = new Uint8Array(8);
  /** Room for the largest packet a read can return. */
  #bufLen: number;

  constructor(fd: number, name: string, mtu: number) {
    this.#fd = fd;
    this.name = name;
    this.mtu = mtu;
    new DataView(this.#pollfd.buffer).setInt32(0, fd, true);
    new DataView(this.#pollfd.buffer).setInt16(4, POLLIN, true);
    this.#bufLen = Math.max(mtu, 1500) + 64;
  }

  /** Reads one IP packet; rejects with ClosedError after close, or the abort reason. */
  async read(signal?: AbortSignal): Promise<Uint8Array> {
    const c = lib();
    for (;;) {
      if (this.#closed) throw new ClosedError("tun device closed");
      signal?.throwIfAborted();
      // Straight into slab memory: no backing store and no copy per packet.
      const view = packetSlab.reserve(this.#bufLen);
      const n = Number(c.read(this.#fd, view, BigInt(view.length)));
      if (n > 0) {
        packetSlab.commit(n);
        return view.subarray(0, n);
      }
      if (n === 0) throw new ClosedError("tun device closed");
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw new TunError(`read ${this.name}: ${strerror(e)}`, e);
      // Each wait gets its own pollfd so an earlier call's result is never reused.
      const pfd = this.#pollfd.slice();
      await c.poll(pfd, 1n, POLL_TIMEOUT_MS);
    }
  }

  /** Writes one IP packet to the kernel. Malformed packets are dropped by the kernel (EINVAL). */
  write(packet: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("tun device closed"));
    const n = Number(lib().write(this.#fd, packet, BigInt(packet.length)));
    if (n < 0) {
      const e = errno();
      // A full queue or a packet the kernel rejects is a drop, like any lost datagram.
      if (e === EAGAIN || e === EINTR || e === 22 /* EINVAL */ || e === 5 /* EIO */) {
        return Promise.resolve();
      }
      return Promise.reject(new TunError(`write ${this.name}: ${strerror(e)}`, e));
    }
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Let a read waiting in poll see the flag before the fd number can be reused.
    setTimeout(() => lib().close(this.#fd), POLL_TIMEOUT_MS + 50);
  }
}

/**
 * Creates a TUN device, assigns the address and MTU, and brings it up.
 * Throws {@link TunError} with a plain explanation when not permitted.
 */
export async function openTun(options: TunOptions = {}): Promise<LinuxTun> {
  const mtu = options.mtu ?? 1420;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    throw new RangeError(`mtu ${mtu} must be an integer from 576 to 65535`);
  }
  if (options.name !== undefined) validateIfName(options.name);
  let c: Libc;
  try {
    c = lib();
  } catch (e) {
    throw new TunError(
      `cannot load libc through FFI (run with --allow-ffi): ${(e as Error).message}`,
    );
  }
  const fd = c.open(cstr("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const e = errno();
    if (e === ENOENT) throw new TunError("/dev/net/tun does not exist (no TUN support)", e);
    if (e === EPERM || e === EACCES) {
      throw new TunError(
        "permission denied opening /dev/net/tun: run as root or with CAP_NET_ADMIN",
        e,
      );
    }
    throw new TunError(`open /dev/net/tun: ${strerror(e)}`, e);
  }
  const req = ifreq(options.name ?? "", IFF_TUN | IFF_NO_PI);
  if (c.ioctl(fd, BigInt(TUNSETIFF), req) < 0) {
    const e = errno();
    c.close(fd);
    if (e === EPERM || e === EACCES) {
      throw new TunError(
        "not permitted to create a TUN device: run as root or with CAP_NET_ADMIN",
        e,
      );
    }
    if (e === EBUSY) {
      throw new TunError(
        `interface ${options.name} is taken (another pytunnel or device uses it): stop that ` +
          `one, or give this config another interface name (or none, for the kernel to pick)`,
        e,
      );
    }
    throw new TunError(`TUNSETIFF: ${strerror(e)}`, e);
  }
  const end = req.indexOf(0);
  const name = new TextDecoder().decode(req.subarray(0, end < 0 ? IFNAMSIZ : end));
  const tun = new LinuxTun(fd, name, mtu);
  try {
    await ip(["link", "set", "dev", name, "mtu", String(mtu)]);
    if (options.address) await ip(["addr", "add", options.address, "dev", name]);
    if (options.address6) {
      await ip(["-6", "addr", "add", options.address6, "dev", name, "nodad"]);
    }
    if (options.up ?? true) await ip(["link", "set", "dev", name, "up"]);
  } catch (e) {
    tun.close();
    throw e;
  }
  return tun;
}
