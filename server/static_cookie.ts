/**
 * A static ExtORPort auth cookie shared by several tor instances (docs/SCALING.md).
 *
 * tor writes a fresh random cookie to its ExtORPortCookieAuthFile every time it starts and
 * removes the file when it exits, so N tor instances cannot share one cookie file. The
 * operator instead provisions one static cookie file ({@link createCookieFile}); the
 * server authenticates with it, and each tor instance runs `server/extor_static_cookie.ts`
 * as a ServerTransportPlugin that accepts that cookie and relays to its own tor's ExtORPort
 * with tor's current cookie (the role of upstream's extor-static-cookie).
 *
 * @module
 */
import { concatBytes } from "../lib/net/bytes.ts";
import { type ByteConn, readFull, writeAll } from "../lib/net/io.ts";
import {
  AUTH_COOKIE_HEADER,
  AUTH_COOKIE_LENGTH,
  AUTH_HASH_LENGTH,
  AUTH_NONCE_LENGTH,
  AUTH_TYPE_SAFE_COOKIE,
  safeCookieHashes,
} from "../lib/pt/extorport.ts";

/**
 * Writes a new cookie file (the 32-byte header and 32 random bytes, as tor's) with mode
 * 0640; refuses to overwrite an existing file, whose cookie the tors may be using.
 */
export async function createCookieFile(path: string): Promise<void> {
  const cookie = crypto.getRandomValues(new Uint8Array(AUTH_COOKIE_LENGTH));
  await Deno.writeFile(path, concatBytes([AUTH_COOKIE_HEADER, cookie]), {
    createNew: true,
    mode: 0o640,
  });
}

/**
 * The server side of SAFE_COOKIE authentication (ext-orport-spec §2): offers SAFE_COOKIE,
 * checks the client's hash in constant time, and answers 1 or 0. Resolves true once the
 * client authenticated; the connection then carries the client's commands.
 */
export async function acceptSafeCookie(conn: ByteConn, cookie: Uint8Array): Promise<boolean> {
  await writeAll(conn, new Uint8Array([AUTH_TYPE_SAFE_COOKIE, 0]));
  const hello = await readFull(conn, 1 + AUTH_NONCE_LENGTH, "ExtORPort client");
  if (hello[0] !== AUTH_TYPE_SAFE_COOKIE) return false;
  const clientNonce = hello.subarray(1);
  const serverNonce = crypto.getRandomValues(new Uint8Array(AUTH_NONCE_LENGTH));
  const { serverHash, clientHash } = await safeCookieHashes(cookie, clientNonce, serverNonce);
  await writeAll(conn, concatBytes([serverHash, serverNonce]));
  const got = await readFull(conn, AUTH_HASH_LENGTH, "ExtORPort client");
  let diff = 0;
  for (let i = 0; i < AUTH_HASH_LENGTH; i++) diff |= got[i]! ^ clientHash[i]!;
  await writeAll(conn, new Uint8Array([diff === 0 ? 1 : 0]));
  return diff === 0;
}
