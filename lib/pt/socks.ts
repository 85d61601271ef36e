/**
 * The SOCKS server side of a client pluggable transport (pt-spec §3.5): tor connects to the
 * PT's CMETHOD address with SOCKS4, SOCKS4a or SOCKS5 and names the bridge as the target.
 * Per-bridge transport arguments (`k=v;k=v`, with `\` escaping `\`, `=` and `;`) travel in
 * the SOCKS5 username and password (concatenated; a one-byte NUL password means "none";
 * long argument lists are split across both fields) or in the SOCKS4 USERID.
 *
 * {@link SocksHandshake} is the protocol without I/O (what the codec and fuzz tests drive);
 * {@link acceptSocks} runs it over a byte stream and hands back the request and the stream.
 *
 * @example
 * ```ts ignore
 * const socks = await acceptSocks(tcpConn);
 * console.log(socks.request.target, socks.request.args.get("url"));
 * await socks.grant(); // or socks.reject(SOCKS5_REPLY.connectionRefused)
 * // socks.readable / socks.writable now carry the application's bytes
 * ```
 *
 * @module
 */
import { TimeoutError } from "../net/errors.ts";
import type { PtArgs } from "./server_env.ts";
import { concatBytes } from "../net/bytes.ts";

/** SOCKS5 reply codes (RFC 1928 §6). */
export const SOCKS5_REPLY = Object.freeze({
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
});

const SOCKS4_GRANTED = 0x5a;
const SOCKS4_REJECTED = 0x5b;
const AUTH_NONE = 0x00;
const AUTH_USERPASS = 0x02;
const AUTH_NO_ACCEPTABLE = 0xff;
/** SOCKS4 USERID and SOCKS4a hostname are NUL-terminated; bound what we buffer. */
export const SOCKS4_MAX_USERID = 1024;
export const SOCKS4_MAX_HOSTNAME = 255;

/** A malformed or unsupported handshake. `reply` is what to send the client before closing. */
export class SocksError extends SyntaxError {
  constructor(message: string, readonly reply: Uint8Array | null = null) {
    super(message);
    this.name = "SocksError";
  }
}

/** Where the client wants to go. `host` is an IP literal or a domain name. */
export interface SocksTarget {
  kind: "ipv4" | "ipv6" | "domain";
  host: string;
  port: number;
}

/** A complete CONNECT request. */
export interface SocksRequest {
  version: 4 | 5;
  target: SocksTarget;
  /** The PT arguments from the username/password or USERID (empty when none). */
  args: PtArgs;
  /** The raw argument string they were parsed from. */
  rawArgs: string;
}

/** What one {@link SocksHandshake.feed} produced. */
export interface SocksStep {
  /** Bytes to send to the client now (method selection, auth status), possibly empty. */
  out: Uint8Array[];
  /** The request, once complete; the caller then answers with a reply. */
  request: SocksRequest | null;
  /** Bytes received after the request (application data sent early). */
  rest: Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SocksError(`${what} is not valid UTF-8`);
  }
}

/** The SOCKS5 reply (IPv4 bound address; 0.0.0.0:0 unless given). */
export function socks5Reply(code: number, bound: { ip: string; port: number } = {
  ip: "0.0.0.0",
  port: 0,
}): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xff) {
    throw new RangeError(`SOCKS5 reply code ${code} is not a byte`);
  }
  const octets = bound.ip.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new TypeError(`bound address ${bound.ip} is not IPv4`);
  }
  return new Uint8Array([5, code, 0, 1, ...octets, bound.port >> 8, bound.port & 0xff]);
}

/** The SOCKS4 reply: granted (0x5A) or rejected (0x5B). */
export function socks4Reply(granted: boolean): Uint8Array {
  return new Uint8Array([0, granted ? SOCKS4_GRANTED : SOCKS4_REJECTED, 0, 0, 0, 0, 0, 0]);
}

/**
 * Reads up to the first unescaped character of `stops`, undoing `\` escapes; returns the
 * offset of the stop (or the end) and the text.
 */
function scanEscaped(s: string, from: number, stops: string): [number, string] {
  let out = "";
  let i = from;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (stops.includes(c)) break;
    if (c === "\\") {
      if (++i >= s.length) throw new SocksError("PT args: terminal backslash");
      out += s[i];
    } else {
      out += c;
    }
  }
  return [i, out];
}

/**
 * Parses PT client arguments `k=v;k=v` (pt-spec §3.5): `\` escapes any character, every
 * pair needs an `=`, keys are non-empty, values may be empty, keys may repeat.
 */
export function parseClientArgs(s: string): PtArgs {
  const args: PtArgs = new Map();
  let i = 0;
  while (i < s.length) {
    const [ke, key] = scanEscaped(s, i, "=;");
    if (ke >= s.length || s[ke] !== "=") {
      throw new SocksError(`PT args: no equals sign in ${JSON.stringify(s.slice(i, ke))}`);
    }
    if (key === "") throw new SocksError(`PT args: empty key at offset ${i}`);
    const [ve, value] = scanEscaped(s, ke + 1, ";");
    const values = args.get(key);
    if (values) values.push(value);
    else args.set(key, [value]);
    i = ve + 1;
  }
  return args;
}

/** The inverse of {@link parseClientArgs}: escapes `\`, `=` and `;`. */
export function encodeClientArgs(args: Iterable<readonly [string, string]>): string {
  const esc = (s: string) => s.replace(/[\\=;]/g, (c) => "\\" + c);
  return [...args].map(([k, v]) => `${esc(k)}=${esc(v)}`).join(";");
}

/**
 * How a SOCKS5 client (tor) carries an encoded argument string: all of it in the username
 * and a single NUL as password when it fits in 255 bytes, else split across both fields.
 * Throws RangeError above 510 bytes.
 */
export function splitClientArgs(encoded: string): { username: Uint8Array; password: Uint8Array } {
  const bytes = new TextEncoder().encode(encoded);
  if (bytes.length > 510) {
    throw new RangeError(`PT args are ${bytes.length} bytes; SOCKS5 carries at most 510`);
  }
  if (bytes.length <= 255) return { username: bytes, password: new Uint8Array([0]) };
  return { username: bytes.subarray(0, 255), password: bytes.subarray(255) };
}

function ipv6String(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Shorten the longest run of zero groups (RFC 5952), via URL's canonical form.
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

type State = "version" | "methods" | "auth" | "request" | "done";

/**
 * The server side of one SOCKS handshake, without I/O. Feed it the bytes as they arrive;
 * it returns what to send and, at the end, the request. Malformed input throws
 * {@link SocksError} (a SyntaxError) carrying the failure reply to send, or RangeError when
 * a NUL-terminated SOCKS4 field exceeds its bound; after a throw the handshake is dead.
 */
export class SocksHandshake {
  #buf = new Uint8Array(0);
  #state: State = "version";
  #version: 4 | 5 | null = null;
  #rawArgs = "";
  #args: PtArgs = new Map();

  /** 4 or 5 once the first byte arrived. */
  get version(): 4 | 5 | null {
    return this.#version;
  }

  get done(): boolean {
    return this.#state === "done";
  }

  /** The reply that refuses the request, once it arrived (what {@link acceptSocks} sends). */
  refusal(code: number = SOCKS5_REPLY.generalFailure): Uint8Array {
    return this.#version === 4 ? socks4Reply(false) : socks5Reply(code);
  }

  feed(chunk: Uint8Array): SocksStep {
    if (this.#state === "done") throw new TypeError("SOCKS handshake already complete");
    if (this.#buf.length === 0) this.#buf = chunk.slice();
    else {
      const b = new Uint8Array(this.#buf.length + chunk.length);
      b.set(this.#buf);
      b.set(chunk, this.#buf.length);
      this.#buf = b;
    }
    const out: Uint8Array[] = [];
    try {
      for (;;) {
        const before: State = this.#state;
        const request = this.#step(out);
        if (request) {
          this.#state = "done";
          const rest = this.#buf;
          this.#buf = new Uint8Array(0);
          return { out, request, rest };
        }
        if (this.#state === before) return { out, request: null, rest: new Uint8Array(0) };
      }
    } catch (e) {
      // Replies produced earlier in this chunk still go out, before the failure reply.
      if (!(e instanceof SocksError) || out.length === 0) throw e;
      throw new SocksError(e.message, concatBytes([...out, ...(e.reply ? [e.reply] : [])]));
    }
  }

  #consume(n: number): void {
    this.#buf = this.#buf.subarray(n);
  }

  /** Advances by at most one state; returns the request when complete. */
  #step(out: Uint8Array[]): SocksRequest | null {
    const b = this.#buf;
    switch (this.#state) {
      case "version": {
        if (b.length < 1) return null;
        if (b[0] === 5) {
          this.#version = 5;
          this.#state = "methods";
        } else if (b[0] === 4) {
          this.#version = 4;
          this.#state = "request";
        } else {
          throw new SocksError(`unknown SOCKS version ${b[0]}`);
        }
        return null;
      }
      case "methods": {
        if (b.length < 2) return null;
        const n = b[1]!;
        if (n === 0) throw new SocksError("SOCKS5 greeting offers no methods");
        if (b.length < 2 + n) return null;
        const methods = b.subarray(2, 2 + n);
        this.#consume(2 + n);
        if (methods.includes(AUTH_USERPASS)) {
          out.push(new Uint8Array([5, AUTH_USERPASS]));
          this.#state = "auth";
        } else if (methods.includes(AUTH_NONE)) {
          out.push(new Uint8Array([5, AUTH_NONE]));
          this.#state = "request";
        } else {
          throw new SocksError(
            "SOCKS5 greeting offers neither no-auth nor username/password",
            new Uint8Array([5, AUTH_NO_ACCEPTABLE]),
          );
        }
        return null;
      }
      case "auth": {
        const fail = new Uint8Array([1, 1]);
        if (b.length < 2) return null;
        if (b[0] !== 1) throw new SocksError(`username/password version ${b[0]} is not 1`, fail);
        const ulen = b[1]!;
        if (b.length < 3 + ulen) return null;
        const plen = b[2 + ulen]!;
        if (b.length < 3 + ulen + plen) return null;
        const uname = b.subarray(2, 2 + ulen);
        let passwd = b.subarray(3 + ulen, 3 + ulen + plen);
        if (passwd.length === 1 && passwd[0] === 0) passwd = passwd.subarray(1);
        const joined = new Uint8Array(uname.length + passwd.length);
        joined.set(uname);
        joined.set(passwd, uname.length);
        try {
          this.#rawArgs = decodeUtf8(joined, "PT args");
          this.#args = parseClientArgs(this.#rawArgs);
        } catch (e) {
          throw new SocksError((e as Error).message, fail);
        }
        this.#consume(3 + ulen + plen);
        out.push(new Uint8Array([1, 0]));
        this.#state = "request";
        return null;
      }
      case "request":
        return this.#version === 4 ? this.#request4() : this.#request5();
      case "done":
        return null;
    }
  }

  #request5(): SocksRequest | null {
    const b = this.#buf;
    if (b.length < 4) return null;
    if (b[0] !== 5) {
      throw new SocksError(
        `SOCKS5 request version ${b[0]}`,
        socks5Reply(SOCKS5_REPLY.generalFailure),
      );
    }
    if (b[1] !== 1) {
      throw new SocksError(
        `SOCKS5 command ${b[1]} is not CONNECT`,
        socks5Reply(SOCKS5_REPLY.commandNotSupported),
      );
    }
    if (b[2] !== 0) {
      throw new SocksError(
        `SOCKS5 reserved byte ${b[2]}`,
        socks5Reply(SOCKS5_REPLY.generalFailure),
      );
    }
    let kind: SocksTarget["kind"];
    let host: string;
    let end: number;
    switch (b[3]) {
      case 1:
        end = 4 + 4;
        if (b.length < end + 2) return null;
        kind = "ipv4";
        host = Array.from(b.subarray(4, 8)).join(".");
        break;
      case 4:
        end = 4 + 16;
        if (b.length < end + 2) return null;
        kind = "ipv6";
        host = ipv6String(b.subarray(4, 20));
        break;
      case 3: {
        if (b.length < 5) return null;
        const n = b[4]!;
        const fail = socks5Reply(SOCKS5_REPLY.generalFailure);
        if (n === 0) throw new SocksError("SOCKS5 domain name is empty", fail);
        end = 5 + n;
        if (b.length < end + 2) return null;
        kind = "domain";
        try {
          host = decodeUtf8(b.subarray(5, end), "SOCKS5 domain name");
        } catch (e) {
          throw new SocksError((e as Error).message, fail);
        }
        break;
      }
      default:
        throw new SocksError(
          `SOCKS5 address type ${b[3]}`,
          socks5Reply(SOCKS5_REPLY.addressTypeNotSupported),
        );
    }
    const port = (b[end]! << 8) | b[end + 1]!;
    this.#consume(end + 2);
    return { version: 5, target: { kind, host, port }, args: this.#args, rawArgs: this.#rawArgs };
  }

  #request4(): SocksRequest | null {
    const b = this.#buf;
    if (b.length < 8) return null;
    const reject = socks4Reply(false);
    if (b[1] !== 1) throw new SocksError(`SOCKS4 command ${b[1]} is not CONNECT`, reject);
    const port = (b[2]! << 8) | b[3]!;
    const ip = b.subarray(4, 8);
    const userEnd = b.indexOf(0, 8);
    if (userEnd < 0) {
      if (b.length - 8 > SOCKS4_MAX_USERID) {
        throw new RangeError(`SOCKS4 USERID exceeds ${SOCKS4_MAX_USERID} bytes`);
      }
      return null;
    }
    if (userEnd - 8 > SOCKS4_MAX_USERID) {
      throw new RangeError(`SOCKS4 USERID exceeds ${SOCKS4_MAX_USERID} bytes`);
    }
    let rawArgs: string;
    let args: PtArgs;
    try {
      rawArgs = decodeUtf8(b.subarray(8, userEnd), "SOCKS4 USERID");
      args = parseClientArgs(rawArgs);
    } catch (e) {
      throw new SocksError((e as Error).message, reject);
    }
    let target: SocksTarget;
    let end = userEnd + 1;
    if (ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0) {
      const hostEnd = b.indexOf(0, end);
      if (hostEnd < 0) {
        if (b.length - end > SOCKS4_MAX_HOSTNAME) {
          throw new RangeError(`SOCKS4a hostname exceeds ${SOCKS4_MAX_HOSTNAME} bytes`);
        }
        return null;
      }
      if (hostEnd === end) throw new SocksError("SOCKS4a hostname is empty", reject);
      if (hostEnd - end > SOCKS4_MAX_HOSTNAME) {
        throw new RangeError(`SOCKS4a hostname exceeds ${SOCKS4_MAX_HOSTNAME} bytes`);
      }
      let host: string;
      try {
        host = decodeUtf8(b.subarray(end, hostEnd), "SOCKS4a hostname");
      } catch (e) {
        throw new SocksError((e as Error).message, reject);
      }
      target = { kind: "domain", host, port };
      end = hostEnd + 1;
    } else {
      target = { kind: "ipv4", host: Array.from(ip).join("."), port };
    }
    this.#consume(end);
    return { version: 4, target, args, rawArgs };
  }
}

/** A byte stream to run SOCKS over (any Conn, a Deno.TcpConn, ...). */
export interface ByteStream {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/** A finished handshake: answer it with {@link grant} or {@link reject}, then relay. */
export interface AcceptedSocks {
  request: SocksRequest;
  /** The client's bytes after the request (including any sent early). */
  readable: ReadableStream<Uint8Array>;
  /** To the client; write only after {@link grant}. */
  writable: WritableStream<Uint8Array>;
  /** Sends the success reply. */
  grant(): Promise<void>;
  /** Sends a failure reply (a SOCKS5 code; SOCKS4 has only "rejected"). */
  reject(code?: number): Promise<void>;
}

/** Options for {@link acceptSocks}. */
export interface AcceptSocksOptions {
  /** Fail with TimeoutError if the handshake is not complete by then. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

async function writeAll(writable: WritableStream<Uint8Array>, chunks: Uint8Array[]) {
  const w = writable.getWriter();
  try {
    for (const c of chunks) await w.write(c);
  } finally {
    w.releaseLock();
  }
}

/**
 * Runs the server side of a SOCKS handshake over `stream`. On a bad handshake, sends the
 * failure reply (when the protocol has one) and rejects with the error; the caller closes
 * the stream.
 */
export async function acceptSocks(
  stream: ByteStream,
  options: AcceptSocksOptions = {},
): Promise<AcceptedSocks> {
  const hs = new SocksHandshake();
  const reader = stream.readable.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel(new TimeoutError("SOCKS handshake")).catch(() => {});
  }, options.timeoutMs ?? 30_000);
  const onAbort = () => reader.cancel(options.signal?.reason).catch(() => {});
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let step: SocksStep | null = null;
  try {
    while (!step?.request) {
      const { value, done } = await reader.read();
      if (done) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (timedOut) throw new TimeoutError("SOCKS handshake");
        throw hs.version === null && step === null
          ? new SocksError("connection closed before a SOCKS greeting")
          : new SocksError("connection closed mid-handshake");
      }
      try {
        step = hs.feed(value);
      } catch (e) {
        if (e instanceof SocksError && e.reply) await writeAll(stream.writable, [e.reply]);
        else if (e instanceof RangeError && hs.version === 4) {
          await writeAll(stream.writable, [socks4Reply(false)]);
        }
        throw e;
      }
      if (step.out.length) await writeAll(stream.writable, step.out);
    }
  } catch (e) {
    reader.releaseLock();
    throw e;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  const request = step.request;
  let early: Uint8Array | null = step.rest.length ? step.rest : null;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (early) {
        controller.enqueue(early);
        early = null;
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  let answered = false;
  const answer = (bytes: Uint8Array) => {
    if (answered) throw new TypeError("SOCKS request already answered");
    answered = true;
    return writeAll(stream.writable, [bytes]);
  };
  return {
    request,
    readable,
    writable: stream.writable,
    grant: () => answer(request.version === 4 ? socks4Reply(true) : socks5Reply(0)),
    reject: (code = SOCKS5_REPLY.generalFailure) => answer(hs.refusal(code)),
  };
}
