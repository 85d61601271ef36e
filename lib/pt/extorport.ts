/**
 * Extended ORPort client (ext-orport-spec, PROTOCOL.md §9): SAFE_COOKIE authentication,
 * then USERADDR, TRANSPORT and DONE, then raw OR bytes. Falls back to the plain ORPort
 * when tor gave no ExtORPort.
 *
 * @module
 */

import { concatBytes } from "../net/bytes.ts";
import { type ByteConn, readFull, writeAll } from "../net/io.ts";
import { TimeoutError } from "../net/errors.ts";

// Spec constants (ext-orport-spec).
/** The 32-byte header at the start of tor's auth cookie file. */
export const AUTH_COOKIE_HEADER = new TextEncoder().encode("! Extended ORPort Auth Cookie !\x0a");
export const AUTH_COOKIE_LENGTH = 32;
export const AUTH_NONCE_LENGTH = 32;
export const AUTH_HASH_LENGTH = 32;
export const AUTH_TYPE_SAFE_COOKIE = 1;
export const EXTOR_USERADDR = 0x0001;
export const EXTOR_TRANSPORT = 0x0002;
export const EXTOR_DONE = 0x0000;
export const EXTOR_OKAY = 0x1000;
export const EXTOR_DENY = 0x1001;
const SERVER_TO_CLIENT = new TextEncoder().encode("ExtORPort authentication server-to-client hash");
const CLIENT_TO_SERVER = new TextEncoder().encode("ExtORPort authentication client-to-server hash");

// Implementation constants.
/** A server listing more auth types than this is not tor. */
const MAX_AUTH_TYPES = 256;
/** The whole ExtORPort handshake must finish within this, as in goptlib. */
export const EXTOR_HANDSHAKE_TIMEOUT_MS = 5000;

/** Extracts the 32-byte cookie from the 64-byte cookie file contents. */
export function parseAuthCookie(file: Uint8Array): Uint8Array {
  if (file.length !== AUTH_COOKIE_HEADER.length + AUTH_COOKIE_LENGTH) {
    throw new RangeError(`auth cookie file is ${file.length} bytes, want 64`);
  }
  for (let i = 0; i < AUTH_COOKIE_HEADER.length; i++) {
    if (file[i] !== AUTH_COOKIE_HEADER[i]) {
      throw new SyntaxError("auth cookie file has a bad header");
    }
  }
  return file.slice(AUTH_COOKIE_HEADER.length);
}

async function hmac(key: Uint8Array, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, concatBytes(parts)));
}

/** The two SAFE_COOKIE hashes for a cookie and both nonces. */
export async function safeCookieHashes(
  cookie: Uint8Array,
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
): Promise<{ serverHash: Uint8Array; clientHash: Uint8Array }> {
  return {
    serverHash: await hmac(cookie, SERVER_TO_CLIENT, clientNonce, serverNonce),
    clientHash: await hmac(cookie, CLIENT_TO_SERVER, clientNonce, serverNonce),
  };
}

/** One ExtORPort command: type u16 BE | length u16 BE | body. */
export function encodeExtOrCommand(type: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (body.length > 0xffff) throw new RangeError(`ExtORPort command body of ${body.length} bytes`);
  const out = new Uint8Array(4 + body.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, type);
  v.setUint16(2, body.length);
  out.set(body, 4);
  return out;
}

/** `IP:1` / `[v6]:1`, the USERADDR Snowflake reports for a client IP. */
export function userAddrFromIP(ip: string): string {
  return ip.includes(":") ? `[${ip}]:1` : `${ip}:1`;
}

/** Options for {@link extOrHandshake}. */
export interface ExtOrOptions {
  /** The 32-byte cookie (from {@link parseAuthCookie}). */
  cookie: Uint8Array;
  /** USERADDR value such as `1.2.3.4:1`; omitted when empty. */
  userAddr?: string;
  /** TRANSPORT value such as `snowflake`; omitted when empty. */
  transport?: string;
  /** Nonce source; inject for known-answer tests. */
  randomNonce?: () => Uint8Array;
}

/**
 * Runs SAFE_COOKIE authentication and sends the metadata commands over `conn`. Resolves
 * once tor replies OKAY; the conn then carries raw OR bytes. Throws on DENY, a failed
 * authentication or a malformed reply (the caller closes the conn).
 */
export async function extOrHandshake(conn: ByteConn, opts: ExtOrOptions): Promise<void> {
  let offered = false;
  for (let n = 0;; n++) {
    if (n > MAX_AUTH_TYPES) throw new RangeError("ExtORPort: too many auth types");
    const [t] = await readFull(conn, 1, "ExtORPort");
    if (t === 0) break;
    if (t === AUTH_TYPE_SAFE_COOKIE) offered = true;
  }
  if (!offered) throw new TypeError("ExtORPort: server didn't offer SAFE_COOKIE");
  const clientNonce = opts.randomNonce?.() ??
    crypto.getRandomValues(new Uint8Array(AUTH_NONCE_LENGTH));
  if (clientNonce.length !== AUTH_NONCE_LENGTH) {
    throw new RangeError(`ExtORPort client nonce is ${clientNonce.length} bytes`);
  }
  await writeAll(conn, concatBytes([new Uint8Array([AUTH_TYPE_SAFE_COOKIE]), clientNonce]));
  const reply = await readFull(conn, AUTH_HASH_LENGTH + AUTH_NONCE_LENGTH, "ExtORPort");
  const serverHash = reply.subarray(0, AUTH_HASH_LENGTH);
  const serverNonce = reply.subarray(AUTH_HASH_LENGTH);
  const expected = await safeCookieHashes(opts.cookie, clientNonce, serverNonce);
  let diff = 0;
  for (let i = 0; i < AUTH_HASH_LENGTH; i++) diff |= serverHash[i]! ^ expected.serverHash[i]!;
  if (diff !== 0) throw new SyntaxError("ExtORPort: mismatch in server hash");
  await writeAll(conn, expected.clientHash);
  const [status] = await readFull(conn, 1, "ExtORPort");
  if (status !== 1) throw new TypeError(`ExtORPort: server rejected authentication (${status})`);

  const enc = new TextEncoder();
  const cmds: Uint8Array[] = [];
  if (opts.userAddr) cmds.push(encodeExtOrCommand(EXTOR_USERADDR, enc.encode(opts.userAddr)));
  if (opts.transport) cmds.push(encodeExtOrCommand(EXTOR_TRANSPORT, enc.encode(opts.transport)));
  cmds.push(encodeExtOrCommand(EXTOR_DONE));
  await writeAll(conn, concatBytes(cmds));
  const header = await readFull(conn, 4, "ExtORPort");
  const v = new DataView(header.buffer);
  const type = v.getUint16(0);
  const len = v.getUint16(2);
  if (len > 0) await readFull(conn, len, "ExtORPort");
  if (type === EXTOR_DENY) {
    throw new TypeError("ExtORPort: server returned DENY after our commands");
  }
  if (type !== EXTOR_OKAY) {
    throw new SyntaxError(`ExtORPort: unexpected reply type 0x${type.toString(16)}`);
  }
}

/** Where and how to reach tor. */
export interface OrTarget {
  orAddr: { hostname: string; port: number } | null;
  extendedOrAddr: { hostname: string; port: number } | null;
  /** The 32-byte cookie; or null to read `cookiePath` on every connection, as goptlib does. */
  cookie: Uint8Array | null;
  /** TOR_PT_AUTH_COOKIE_FILE; read when `cookie` is null (tor may rewrite it). */
  cookiePath?: string | null;
}

/** A TCP connection to tor: what {@link dialOr} returns (Deno.TcpConn fits). */
export interface OrConn extends ByteConn {
  /** Half-closes: sends FIN, keeps reading. */
  closeWrite(): Promise<void>;
  close(): void;
}

/** Opens a TCP connection; inject one that binds a source address (orport-srcaddr). */
export type TcpConnect = (addr: { hostname: string; port: number }) => Promise<OrConn>;

/**
 * Connects to tor for one client stream: the ExtORPort with SAFE_COOKIE, USERADDR and
 * TRANSPORT when there is one, else the plain ORPort. Returns the raw connection. A
 * handshake that has not finished after {@link EXTOR_HANDSHAKE_TIMEOUT_MS} fails with
 * {@link TimeoutError}.
 */
export async function dialOr(
  target: OrTarget,
  meta: { userAddr?: string; transport?: string },
  connect: TcpConnect = (a) => Deno.connect({ hostname: a.hostname, port: a.port }),
): Promise<OrConn> {
  if (target.extendedOrAddr) {
    let cookie = target.cookie;
    if (!cookie && target.cookiePath) {
      cookie = parseAuthCookie(await Deno.readFile(target.cookiePath));
    }
    if (!cookie) throw new TypeError("ExtORPort needs an auth cookie");
    const conn = await connect(target.extendedOrAddr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      conn.close();
    }, EXTOR_HANDSHAKE_TIMEOUT_MS);
    try {
      await extOrHandshake(conn, { cookie, ...meta });
    } catch (e) {
      if (timedOut) throw new TimeoutError("ExtORPort handshake");
      conn.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return conn;
  }
  if (!target.orAddr) throw new TypeError("no ORPort or ExtORPort to connect to");
  return await connect(target.orAddr);
}
