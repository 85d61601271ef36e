/**
 * The ORPort side of the server: source-address selection (`orport-srcaddr`), a TCP
 * connector that can bind one, and the two-way pipe between a smux stream and tor.
 *
 * `Deno.connect` cannot bind a local address, so when `orport-srcaddr` is set the
 * connection is made with `node:net` (`localAddress`) and adapted to {@link OrConn}.
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import type { OrConn, TcpConnect } from "../lib/pt/extorport.ts";
import { isIPv4, isIPv6 } from "../lib/pt/server_env.ts";
import type { Conn } from "../lib/net/mod.ts";

/** An IP network: base address bits, prefix length, family. */
export interface IPNet {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

function parseIPv4(s: string): bigint {
  return s.split(".").reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function parseIPv6(s: string): bigint {
  let text = s;
  let tail: bigint[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    tail = [v4 >> 16n, v4 & 0xffffn];
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const r = rest !== undefined ? (rest ? rest.split(":") : []) : [];
  const groups = rest !== undefined ? [...h, ...Array(8 - h.length - r.length).fill("0"), ...r] : h;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  if (tail.length) v = (v >> 32n << 32n) | (tail[0]! << 16n) | tail[1]!;
  return v;
}

function formatIP(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(":");
}

/** Parses an IP (as a /32 or /128) or a CIDR, like the Go server's parseIPCIDR. */
export function parseIPCIDR(s: string): IPNet {
  const slash = s.indexOf("/");
  const ip = slash < 0 ? s : s.slice(0, slash);
  const family = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0;
  if (family === 0) throw new SyntaxError(`invalid IP address or CIDR ${JSON.stringify(s)}`);
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
      throw new SyntaxError(`invalid CIDR prefix in ${JSON.stringify(s)}`);
    }
    prefix = Number(p);
  }
  const value = family === 4 ? parseIPv4(ip) : parseIPv6(ip);
  const hostBits = BigInt(bits - prefix);
  return { family, prefix, base: (value >> hostBits) << hostBits };
}

/** A uniformly random address inside `n`. */
export function randomIP(
  n: IPNet,
  random: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  const bits = n.family === 4 ? 32 : 128;
  const hostBits = bits - n.prefix;
  if (hostBits === 0) return formatIP(n.family, n.base);
  const bytes = random(new Uint8Array(Math.ceil(hostBits / 8)));
  let r = 0n;
  for (const b of bytes) r = (r << 8n) | BigInt(b);
  r &= (1n << BigInt(hostBits)) - 1n;
  return formatIP(n.family, n.base | r);
}

// Implementation constants.
/** Pause the node socket while this many received bytes wait for read(). */
const NODE_READ_HIGH_WATER = 256 * 1024;

/** A node:net socket as an {@link OrConn}. */
class NodeOrConn implements OrConn {
  #sock: net.Socket;
  #chunks: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(sock: net.Socket) {
    this.#sock = sock;
    const wake = () => {
      const w = this.#wake;
      this.#wake = null;
      w?.();
    };
    sock.on("data", (c: Buffer) => {
      this.#chunks.push(c);
      this.#queued += c.length;
      if (this.#queued > NODE_READ_HIGH_WATER) sock.pause();
      wake();
    });
    sock.on("end", () => {
      this.#ended = true;
      wake();
    });
    sock.on("error", (e: Error) => {
      this.#error = e;
      wake();
    });
    sock.on("close", () => {
      this.#ended = true;
      wake();
    });
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => (this.#wake = r));
    }
    const c = this.#chunks[0]!;
    const n = Math.min(p.length, c.length);
    p.set(c.subarray(0, n));
    if (n === c.length) this.#chunks.shift();
    else this.#chunks[0] = c.subarray(n);
    this.#queued -= n;
    if (this.#sock.isPaused() && this.#queued < NODE_READ_HIGH_WATER / 2) this.#sock.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#sock.write(p, (e) => (e ? reject(e) : resolve(p.length)));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#sock.end(resolve));
  }

  close(): void {
    this.#sock.destroy();
  }
}

/** A connector binding a random source address from `srcNet` for every connection. */
export function srcAddrConnect(srcNet: IPNet): TcpConnect {
  return (addr) =>
    new Promise((resolve, reject) => {
      const sock = net.connect({
        host: addr.hostname,
        port: addr.port,
        localAddress: randomIP(srcNet),
        allowHalfOpen: true,
      });
      sock.setNoDelay(true);
      const onError = (e: Error) => reject(e);
      sock.once("error", onError);
      sock.once("connect", () => {
        sock.off("error", onError);
        resolve(new NodeOrConn(sock));
      });
    });
}

/** Plain `Deno.connect`. */
export const denoConnect: TcpConnect = (a) => Deno.connect({ hostname: a.hostname, port: a.port });

// Implementation constants.
/**
 * Read buffer from tor, adaptive: an idle stream (most tor circuits) holds only the
 * smallest buffer while its read waits; a busy one grows to smux's 32 KiB frame size.
 */
const OR_READ_MIN = 2 * 1024;
const OR_READ_MAX = 32 * 1024;

/** Byte counts of one finished pipe. */
export interface PipeResult {
  up: number;
  down: number;
}

export interface PipeOptions {
  /**
   * `stream`'s writer is done with a chunk once its write settles (a smux stream copies it
   * into a batch), so one read buffer from tor serves every write instead of a copy each.
   */
  reuseReadBuffer?: boolean;
}

/**
 * Copies a client stream to tor and back, half-closing each direction on EOF, until both
 * directions end; an error in either closes both. Always closes both at the end.
 */
export async function pipeStream(
  stream: Conn,
  or: OrConn,
  { reuseReadBuffer = false }: PipeOptions = {},
): Promise<PipeResult> {
  const result: PipeResult = { up: 0, down: 0 };
  let failed = false;
  const closeBoth = () => {
    try {
      stream.close();
    } catch { /* already closed */ }
    try {
      or.close();
    } catch { /* already closed */ }
  };
  const fail = () => {
    if (failed) return;
    failed = true;
    closeBoth();
  };
  const up = (async () => {
    const reader = stream.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        let off = 0;
        while (off < value.length) off += await or.write(value.subarray(off));
        result.up += value.length;
      }
      await or.closeWrite();
    } finally {
      reader.releaseLock();
    }
  })().catch(fail);
  const down = (async () => {
    const writer = stream.writable.getWriter();
    try {
      let buf = new Uint8Array(OR_READ_MIN);
      for (;;) {
        const n = await or.read(buf);
        if (n === null) break;
        await writer.write(reuseReadBuffer ? buf.subarray(0, n) : buf.slice(0, n));
        result.down += n;
        if (n === buf.length && buf.length < OR_READ_MAX) buf = new Uint8Array(buf.length * 2);
        else if (n < buf.length / 4 && buf.length > OR_READ_MIN) {
          buf = new Uint8Array(buf.length / 2);
        }
      }
      await writer.close();
    } finally {
      writer.releaseLock();
    }
  })().catch(fail);
  await Promise.all([up, down]);
  if (!failed) closeBoth();
  return result;
}
