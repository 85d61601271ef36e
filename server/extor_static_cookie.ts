/**
 * extor-static-cookie: an ExtORPort with a static auth cookie in front of one tor instance,
 * so several tors can sit behind one balancer (docs/SCALING.md). tor runs it as a
 * ServerTransportPlugin:
 *
 *   ServerTransportPlugin extor_static_cookie exec deno run … server/extor_static_cookie.ts /etc/snowflake/static_extorport_cookie
 *   ServerTransportListenAddr extor_static_cookie 127.0.0.1:10001
 *
 * Each connection authenticates with the static cookie (SAFE_COOKIE), sends its USERADDR
 * and TRANSPORT, and is then relayed to tor's own ExtORPort, authenticated with the cookie
 * tor wrote at start, from the same loopback source address; tor's OKAY or DENY is passed
 * back. `gen-cookie FILE` creates the
 * static cookie file.
 *
 * @module
 */
import "../lib/process/no_inspector.ts";
import { programArgs } from "../lib/process/args.ts";
import { Logger, writeStderr } from "../lib/log/mod.ts";
import { readFull, writeAll } from "../lib/net/io.ts";
import {
  dialOr,
  encodeExtOrCommand,
  EXTOR_DENY,
  EXTOR_DONE,
  EXTOR_HANDSHAKE_TIMEOUT_MS,
  EXTOR_OKAY,
  EXTOR_TRANSPORT,
  EXTOR_USERADDR,
  type OrConn,
  type OrTarget,
  parseAuthCookie,
} from "../lib/pt/extorport.ts";
import { formatAddr, PtSetupError, serverSetup } from "../lib/pt/server_env.ts";
import { PtStdout } from "../lib/pt/stdout.ts";
import { denoConnect, parseIPCIDR, srcAddrConnect } from "./orport.ts";
import { acceptSafeCookie, createCookieFile } from "./static_cookie.ts";

export const METHOD_NAME = "extor_static_cookie";
/** More commands than this before DONE is not a Snowflake server. */
const MAX_COMMANDS = 64;
const COPY_BUFFER = 32 * 1024;

const USAGE = `Usage:
  extor_static_cookie.ts STATIC_COOKIE_FILE   run as tor's ServerTransportPlugin
  extor_static_cookie.ts gen-cookie FILE      create a static cookie file (mode 0640)`;

/** Reads the client's commands up to DONE; returns USERADDR and TRANSPORT. */
async function readCommands(conn: Deno.Conn): Promise<{ userAddr?: string; transport?: string }> {
  const meta: { userAddr?: string; transport?: string } = {};
  const dec = new TextDecoder();
  for (let i = 0; i < MAX_COMMANDS; i++) {
    const header = await readFull(conn, 4, "ExtORPort client");
    const v = new DataView(header.buffer);
    const body = await readFull(conn, v.getUint16(2), "ExtORPort client");
    switch (v.getUint16(0)) {
      case EXTOR_DONE:
        return meta;
      case EXTOR_USERADDR:
        meta.userAddr = dec.decode(body);
        break;
      case EXTOR_TRANSPORT:
        meta.transport = dec.decode(body);
        break;
    }
  }
  throw new RangeError(`more than ${MAX_COMMANDS} ExtORPort commands`);
}

/** Copies `from` to `to` until EOF or an error. */
async function copy(from: Pick<OrConn, "read">, to: Pick<OrConn, "write">): Promise<void> {
  const buf = new Uint8Array(COPY_BUFFER);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) return;
    await writeAll(to, buf.subarray(0, n));
  }
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}

/** One connection from the server (or the balancer's health check). */
async function handle(conn: Deno.TcpConn, staticCookie: Uint8Array, tor: OrTarget, log: Logger) {
  let upstream: OrConn | null = null;
  const timer = setTimeout(() => closeQuietly(conn), EXTOR_HANDSHAKE_TIMEOUT_MS);
  try {
    if (!await acceptSafeCookie(conn, staticCookie)) {
      log.log("a client failed static-cookie authentication");
      return;
    }
    const meta = await readCommands(conn);
    // Keep a loopback source address (the server's orport-srcaddr, passed on by HAProxy's
    // `usesrc clientip`), so tor's per-address limits see the spread.
    const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
    const connect = peer.startsWith("127.") ? srcAddrConnect(parseIPCIDR(peer)) : denoConnect;
    try {
      upstream = await dialOr(tor, meta, connect);
    } catch (e) {
      log.log(`tor's ExtORPort: ${(e as Error).message}`);
      await writeAll(conn, encodeExtOrCommand(EXTOR_DENY));
      return;
    }
    await writeAll(conn, encodeExtOrCommand(EXTOR_OKAY));
    clearTimeout(timer);
    // Either side ending ends both: an OR connection is never half-closed, and a tor that
    // died must not leave the balancer holding its sessions.
    // The copy still running fails once both are closed: that failure is expected.
    const quiet = (p: Promise<void>) => p.catch(() => {});
    await Promise.race([quiet(copy(conn, upstream)), quiet(copy(upstream, conn))]);
  } catch {
    // A health check that only connects, or a client gone mid-handshake.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
    if (upstream) closeQuietly(upstream);
  }
}

async function main(): Promise<number> {
  const args = programArgs();
  const [first, second] = args;
  if (first === "gen-cookie" && second) {
    try {
      await createCookieFile(second);
    } catch (e) {
      console.error(`gen-cookie: ${(e as Error).message}`);
      return 1;
    }
    return 0;
  }
  if (!first || args.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const log = new Logger({ unsafe: false, write: writeStderr });
  let staticCookie: Uint8Array;
  try {
    staticCookie = parseAuthCookie(await Deno.readFile(first));
  } catch (e) {
    log.log(`static cookie ${first}: ${(e as Error).message}`);
    return 1;
  }
  const out = new PtStdout();
  let info;
  try {
    info = serverSetup(out);
  } catch (e) {
    log.log(`error in setup: ${(e as Error).message}`);
    if (e instanceof PtSetupError) return 1;
    throw e;
  }
  if (!info.extendedOrAddr) {
    out.envError("extor_static_cookie needs tor's ExtORPort (ExtORPort in torrc)");
    return 1;
  }
  const tor: OrTarget = {
    orAddr: null,
    extendedOrAddr: info.extendedOrAddr,
    cookie: null,
    cookiePath: info.authCookiePath,
  };
  const listeners: Deno.TcpListener[] = [];
  for (const b of info.bindaddrs) {
    if (b.methodName !== METHOD_NAME) {
      out.smethodError(b.methodName, "no such method");
      continue;
    }
    try {
      const l = Deno.listen({ hostname: b.addr.hostname, port: b.addr.port });
      listeners.push(l);
      out.smethod(METHOD_NAME, formatAddr(l.addr));
      (async () => {
        for await (const c of l) handle(c, staticCookie, tor, log);
      })().catch(() => {});
    } catch (e) {
      out.smethodError(b.methodName, (e as Error).message);
    }
  }
  out.smethodsDone();
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, resolve);
    if (info.exitOnStdinClose) {
      (async () => {
        try {
          for await (const _ of Deno.stdin.readable) { /* discard */ }
        } catch { /* EOF */ }
        resolve();
      })();
    }
  });
  for (const l of listeners) closeQuietly(l);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
