/**
 * FFI to Debian's libusrsctp2 (usrsctp 0.9.5): the userland SCTP stack, run with its own
 * UDP encapsulation (RFC 6951). The stack is one per process: {@link usrsctpStack} starts it
 * once on one UDP port, and every socket of the process shares that port.
 *
 * Blocking calls (connect, recvv) run on Deno's blocking thread pool (`nonblocking: true`).
 * A send that fits in the association's send buffer is made on the main thread (usrsctp
 * ignores MSG_DONTWAIT, so the fit is checked first with SCTP_GET_SNDBUF_USE); one that
 * does not waits on a pool thread, one at a time per association. No callback ever runs on
 * usrsctp's threads.
 * Struct layouts are those of usrsctp.h on x86_64 Linux.
 *
 * @module
 */
import { errno } from "../net/libc.ts";

const LIBRARY = "libusrsctp.so.2";

const SYMBOLS = {
  usrsctp_init: { parameters: ["u16", "pointer", "pointer"], result: "void" },
  usrsctp_socket: {
    parameters: ["i32", "i32", "i32", "pointer", "pointer", "u32", "pointer"],
    result: "pointer",
  },
  usrsctp_setsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "u32"], result: "i32" },
  usrsctp_getsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "buffer"], result: "i32" },
  usrsctp_bind: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  usrsctp_listen: { parameters: ["pointer", "i32"], result: "i32" },
  usrsctp_connect: {
    parameters: ["pointer", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  usrsctp_recvv: {
    parameters: [
      "pointer",
      "buffer",
      "usize",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "isize",
    nonblocking: true,
  },
  usrsctp_sendv: {
    parameters: ["pointer", "buffer", "usize", "pointer", "i32", "buffer", "u32", "u32", "i32"],
    result: "isize",
  },
  usrsctp_sendv_blocking: {
    name: "usrsctp_sendv",
    parameters: ["pointer", "buffer", "usize", "pointer", "i32", "buffer", "u32", "u32", "i32"],
    result: "isize",
    nonblocking: true,
  },
  usrsctp_shutdown: { parameters: ["pointer", "i32"], result: "i32" },
  usrsctp_close: { parameters: ["pointer"], result: "void" },
  usrsctp_sysctl_set_sctp_heartbeat_interval_default: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_rto_max_default: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_path_rtx_max_default: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_init_rtx_max_default: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_no_csum_on_loopback: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_sendspace: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_recvspace: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_ecn_enable: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_asconf_enable: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_auto_asconf: { parameters: ["u32"], result: "i32" },
  usrsctp_sysctl_set_sctp_max_chunks_on_queue: { parameters: ["u32"], result: "i32" },
} as const;

/** The library's symbols, as {@link usrsctpStack} returns them. */
export type UsrsctpSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// Linux and usrsctp.h constants.
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_SEQPACKET = 5;
export const IPPROTO_SCTP = 132;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SHUT_RD = 0;
export const MSG_EOR = 0x8;
export const MSG_NOTIFICATION = 0x2000;
const SCTP_INITMSG = 0x03;
const SCTP_NODELAY = 0x04;
const SCTP_AUTOCLOSE = 0x05;
const SCTP_I_WANT_MAPPED_V4_ADDR = 0x0d;
const SCTP_EVENT = 0x1e;
const SCTP_RECVRCVINFO = 0x1f;
const SCTP_REMOTE_UDP_ENCAPS_PORT = 0x24;
const SCTP_GET_SNDBUF_USE = 0x1101;
const SCTP_FUTURE_ASSOC = 0;
const SCTP_SENDV_SNDINFO = 1;
export const SCTP_RECVV_RCVINFO = 1;
export const SCTP_ABORT = 0x0200;
export const SCTP_ASSOC_CHANGE = 0x0001;
export const SCTP_SHUTDOWN_EVENT = 0x0005;
export const SCTP_COMM_UP = 0x0001;
export const SCTP_COMM_LOST = 0x0002;
export const SCTP_RESTART = 0x0003;
export const SCTP_SHUTDOWN_COMP = 0x0004;
export const SCTP_CANT_STR_ASSOC = 0x0005;

// Tuning: our own choices, each with its reason.
/** Heartbeat every 5 s (default 30 s), so that a dead path is noticed within ~half a minute. */
const HEARTBEAT_MS = 5_000;
/** Cap the retransmission timeout at 5 s (default 60 s): reconnecting beats waiting. */
const RTO_MAX_MS = 5_000;
/** Give up on an association after 6 unanswered retransmissions (default 10). */
const ASSOC_RTX_MAX = 6;
/** Socket buffers of 2 MiB: enough for ~20 MB/s at 100 ms RTT, bounded per association. */
export const SOCKET_BUFFER = 2 * 1024 * 1024;

let stack: { symbols: UsrsctpSymbols; udpPort: number } | undefined;

/**
 * Starts the process's usrsctp stack with UDP encapsulation on `udpPort` (0.0.0.0 and ::),
 * or returns the one already started. A second call with another port is a RangeError: the
 * stack has one UDP port per process.
 */
export function usrsctpStack(udpPort: number): UsrsctpSymbols {
  if (stack) {
    if (stack.udpPort !== udpPort) {
      throw new RangeError(`usrsctp already runs on UDP port ${stack.udpPort}, not ${udpPort}`);
    }
    return stack.symbols;
  }
  if (!Number.isInteger(udpPort) || udpPort <= 0 || udpPort > 0xffff) {
    throw new RangeError(`UDP encapsulation port ${udpPort} is not in 1..65535`);
  }
  const symbols = Deno.dlopen(LIBRARY, SYMBOLS).symbols;
  symbols.usrsctp_init(udpPort, null, null);
  symbols.usrsctp_sysctl_set_sctp_no_csum_on_loopback(0); // CRC32c always: peers check it
  symbols.usrsctp_sysctl_set_sctp_ecn_enable(0); // no IP ECN bits through a UDP socket
  symbols.usrsctp_sysctl_set_sctp_asconf_enable(0); // no address changes: one path over UDP
  symbols.usrsctp_sysctl_set_sctp_auto_asconf(0);
  symbols.usrsctp_sysctl_set_sctp_heartbeat_interval_default(HEARTBEAT_MS);
  symbols.usrsctp_sysctl_set_sctp_rto_max_default(RTO_MAX_MS);
  symbols.usrsctp_sysctl_set_sctp_assoc_rtx_max_default(ASSOC_RTX_MAX);
  symbols.usrsctp_sysctl_set_sctp_path_rtx_max_default(ASSOC_RTX_MAX);
  symbols.usrsctp_sysctl_set_sctp_init_rtx_max_default(ASSOC_RTX_MAX);
  symbols.usrsctp_sysctl_set_sctp_sendspace(SOCKET_BUFFER);
  symbols.usrsctp_sysctl_set_sctp_recvspace(SOCKET_BUFFER);
  // Only bytes bound a send buffer (default 512 chunks would block a 2 MiB buffer early).
  symbols.usrsctp_sysctl_set_sctp_max_chunks_on_queue(1 << 20);
  stack = { symbols, udpPort };
  return symbols;
}

/** The UDP port the process's stack runs on, or null before {@link usrsctpStack}. */
export function usrsctpPort(): number | null {
  return stack?.udpPort ?? null;
}

/** A UDP port on `hostname` that was free a moment ago (for port 0 in a bind address). */
export function freeUdpPort(hostname: string): number {
  const c = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const port = (c.addr as Deno.NetAddr).port;
  c.close();
  return port;
}

/** A socket address: IPv4 as sockaddr_in, anything else as sockaddr_in6. */
export function encodeSockaddr(hostname: string, port: number): Uint8Array {
  const v4 = parseIPv4(hostname);
  if (v4) {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port);
    b.set(v4, 4);
    return b;
  }
  const v6 = parseIPv6(hostname);
  if (!v6) throw new TypeError(`${JSON.stringify(hostname)} is not an IP address`);
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port);
  b.set(v6, 8);
  return b;
}

/** Decodes a sockaddr_in or sockaddr_in6; IPv4-mapped IPv6 comes back as plain IPv4. */
export function decodeSockaddr(b: Uint8Array): { hostname: string; port: number } | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = v.getUint16(0, true);
  const port = v.getUint16(2);
  if (family === AF_INET) return { hostname: b.subarray(4, 8).join("."), port };
  if (family !== AF_INET6) return null;
  const a = b.subarray(8, 24);
  if (a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff) {
    return { hostname: a.subarray(12, 16).join("."), port };
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  return { hostname: compressIPv6(groups), port };
}

function compressIPv6(groups: string[]): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | null {
  const text = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const words = (h: string) => (h === "" ? [] : h.split(":"));
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  const expand = (ws: string[]): number[] | null => {
    const out: number[] = [];
    for (const w of ws) {
      if (w.includes(".")) {
        const v4 = parseIPv4(w);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(w)) out.push(parseInt(w, 16));
      else return null;
    }
    return out;
  };
  const h = expand(head), t = expand(tail);
  if (!h || !t) return null;
  const fill = 8 - h.length - t.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return null;
  const all = [...h, ...Array(fill).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** One message or notification from {@link UsrsctpSocket.recv}. */
export interface Received {
  data: Uint8Array;
  /** MSG_NOTIFICATION, MSG_EOR. */
  flags: number;
  sid: number;
  ppid: number;
  assocId: number;
  from: { hostname: string; port: number } | null;
}

const RECV_BUFFER = 64 * 1024;

/** Options set on every socket. */
export interface SocketOptions {
  /** Outbound and inbound streams asked for in INIT. */
  streams: number;
  /** Remote UDP encapsulation port, for a socket that initiates associations. */
  remoteUdpPort?: number;
  /** Close an association after this many seconds without user data (0 = never). */
  autocloseSeconds?: number;
}

/** A usrsctp socket: one-to-one (client) or one-to-many (server). */
export class UsrsctpSocket {
  readonly #ffi: UsrsctpSymbols;
  readonly #so: Deno.PointerValue;
  readonly #buf = new Uint8Array(RECV_BUFFER);
  readonly #from = new Uint8Array(128);
  readonly #fromLen = new Uint32Array(1);
  readonly #info = new Uint8Array(28);
  readonly #infoLen = new Uint32Array(1);
  readonly #infoType = new Uint32Array(1);
  readonly #flags = new Int32Array(1);
  readonly #sockstat = new Uint8Array(12);
  readonly #sockstatLen = new Uint32Array(1);
  readonly #waiting = new Map<number, Promise<void>>();
  #closing = false;

  constructor(ffi: UsrsctpSymbols, type: number, options: SocketOptions) {
    this.#ffi = ffi;
    this.#so = ffi.usrsctp_socket(AF_INET6, type, IPPROTO_SCTP, null, null, 0, null);
    if (!this.#so) throw new Error(`usrsctp_socket failed: errno ${errno()}`);
    const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
    this.#set(IPPROTO_SCTP, SCTP_I_WANT_MAPPED_V4_ADDR, u32(1));
    this.#set(IPPROTO_SCTP, SCTP_RECVRCVINFO, u32(1));
    this.#set(IPPROTO_SCTP, SCTP_NODELAY, u32(1));
    this.#set(SOL_SOCKET, SO_SNDBUF, u32(SOCKET_BUFFER));
    this.#set(SOL_SOCKET, SO_RCVBUF, u32(SOCKET_BUFFER));
    const init = new Uint8Array(8); // struct sctp_initmsg: outbound, inbound streams
    const initView = new DataView(init.buffer);
    initView.setUint16(0, options.streams, true);
    initView.setUint16(2, options.streams, true);
    this.#set(IPPROTO_SCTP, SCTP_INITMSG, init);
    for (const type of [SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT]) {
      const event = new Uint8Array(8); // struct sctp_event
      const view = new DataView(event.buffer);
      view.setUint32(0, SCTP_FUTURE_ASSOC, true);
      view.setUint16(4, type, true);
      event[6] = 1;
      this.#set(IPPROTO_SCTP, SCTP_EVENT, event);
    }
    if (options.autocloseSeconds) {
      this.#set(IPPROTO_SCTP, SCTP_AUTOCLOSE, u32(options.autocloseSeconds));
    }
    if (options.remoteUdpPort) {
      const encaps = new Uint8Array(136); // struct sctp_udpencaps
      const view = new DataView(encaps.buffer);
      view.setUint16(0, AF_INET6, true);
      view.setUint16(132, options.remoteUdpPort);
      this.#set(IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, encaps);
    }
  }

  #set(level: number, name: number, value: Uint8Array) {
    if (this.#ffi.usrsctp_setsockopt(this.#so, level, name, value, value.length) < 0) {
      throw new Error(`usrsctp_setsockopt(${level}, ${name}) failed: errno ${errno()}`);
    }
  }

  /** Binds to `hostname:port` (`::` or `0.0.0.0` for any) and listens. */
  listen(hostname: string, port: number): void {
    const any = hostname === "0.0.0.0" || hostname === "::" || hostname === "";
    const addr = encodeSockaddr(any ? "::" : mapToV6(hostname), port);
    if (this.#ffi.usrsctp_bind(this.#so, addr, addr.length) < 0) {
      throw new Error(`usrsctp_bind to SCTP port ${port} failed: errno ${errno()}`);
    }
    if (this.#ffi.usrsctp_listen(this.#so, 1) < 0) {
      throw new Error(`usrsctp_listen failed: errno ${errno()}`);
    }
  }

  /** Sets up the association (blocks a pool thread until COMM_UP or failure). */
  async connect(hostname: string, port: number): Promise<void> {
    const addr = encodeSockaddr(mapToV6(hostname), port);
    if (await this.#ffi.usrsctp_connect(this.#so, addr, addr.length) < 0) {
      throw new Error(`SCTP association to port ${port} failed`);
    }
  }

  /**
   * The next message (or notification), or null once the socket is closed or at EOF; a
   * failed receive rejects (its errno stays on the pool thread). One recv at a time.
   */
  async recv(): Promise<Received | null> {
    if (this.#closing) return null;
    this.#fromLen[0] = this.#from.length;
    this.#infoLen[0] = this.#info.length;
    this.#infoType[0] = 0;
    this.#flags[0] = 0;
    const n = Number(
      await this.#ffi.usrsctp_recvv(
        this.#so,
        this.#buf,
        BigInt(this.#buf.length),
        this.#from,
        this.#fromLen,
        this.#info,
        this.#infoLen,
        this.#infoType,
        this.#flags,
      ),
    );
    if (n === 0 || this.#closing) return null;
    if (n < 0) throw new Error("SCTP receive failed");
    const flags = this.#flags[0]!;
    const info = new DataView(this.#info.buffer);
    const hasInfo = this.#infoType[0] === SCTP_RECVV_RCVINFO;
    return {
      data: this.#buf.slice(0, n),
      flags,
      sid: hasInfo ? info.getUint16(0, true) : 0,
      ppid: hasInfo ? info.getUint32(8) : 0, // network byte order on the wire and in rcvinfo
      assocId: hasInfo ? info.getUint32(24, true) : 0,
      from: this.#fromLen[0]! > 0 ? decodeSockaddr(this.#from.subarray(0, this.#fromLen[0])) : null,
    };
  }

  /**
   * Sends one message on stream `sid` of association `assocId` (ignored on one-to-one
   * sockets); waits for buffer space. Rejects when the association is gone.
   */
  async send(assocId: number, sid: number, ppid: number, data: Uint8Array, abort = false) {
    for (let waiting = this.#waiting.get(assocId); waiting; waiting = this.#waiting.get(assocId)) {
      await waiting.catch(() => {});
    }
    const info = new Uint8Array(16);
    const v = new DataView(info.buffer);
    v.setUint16(0, sid, true);
    v.setUint16(2, abort ? SCTP_ABORT : 0, true);
    v.setUint32(4, ppid); // sent as-is: network byte order
    v.setUint32(12, assocId, true);
    const len = BigInt(data.length);
    // usrsctp refuses a NULL buffer (EFAULT) even for an empty ABORT; an empty typed array
    // would be passed as NULL.
    if (data.length === 0) data = new Uint8Array(1);
    const ffi = this.#ffi;
    if (this.#sendBufferUsed(assocId) + data.length <= SOCKET_BUFFER) {
      const n = ffi.usrsctp_sendv(this.#so, data, len, null, 0, info, 16, SCTP_SENDV_SNDINFO, 0);
      if (Number(n) < 0) throw new Error(`SCTP send failed: errno ${errno()}`);
      return;
    }
    const blocking = ffi.usrsctp_sendv_blocking(
      this.#so,
      data,
      len,
      null,
      0,
      info,
      16,
      SCTP_SENDV_SNDINFO,
      0,
    ).then((n) => {
      if (Number(n) < 0) throw new Error("SCTP send failed");
    }).finally(() => this.#waiting.delete(assocId));
    this.#waiting.set(assocId, blocking);
    await blocking;
  }

  /** Bytes queued for sending on the association (0 when it is gone: the send then fails). */
  #sendBufferUsed(assocId: number): number {
    const ss = this.#sockstat;
    new DataView(ss.buffer).setUint32(0, assocId, true);
    this.#sockstatLen[0] = ss.length;
    const r = this.#ffi.usrsctp_getsockopt(
      this.#so,
      IPPROTO_SCTP,
      SCTP_GET_SNDBUF_USE,
      ss,
      this.#sockstatLen,
    );
    return r < 0 ? 0 : new DataView(ss.buffer).getUint32(4, true);
  }

  /** Wakes a pending {@link recv} (it returns null), then frees the socket. */
  close(pendingRecv?: Promise<unknown>): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#ffi.usrsctp_shutdown(this.#so, SHUT_RD);
    const so = this.#so;
    const free = () => this.#ffi.usrsctp_close(so);
    if (pendingRecv) pendingRecv.finally(free);
    else free();
  }
}

function mapToV6(hostname: string): string {
  return parseIPv4(hostname) ? `::ffff:${hostname}` : hostname;
}
