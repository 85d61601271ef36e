/**
 * The client side of the PT environment (pt-spec §3.2, docs/PROTOCOL.md §8): which transports
 * tor wants, where state goes, whether to exit when stdin closes, and the upstream proxy
 * (TOR_PT_PROXY). Errors name the stdout line that reports them, like goptlib's ClientSetup.
 *
 * @example
 * ```ts ignore
 * const out = new PtStdout();
 * const info = clientSetup(out); // prints VERSION 1, or the error line and throws
 * if (info.proxy) out.proxyError("proxy not supported");
 * ```
 *
 * @module
 */
import { type Getenv, isIP, parseManagedTransportVer, PtSetupError } from "./server_env.ts";
import type { PtStdout } from "./stdout.ts";

/** TOR_PT_PROXY, parsed. */
export interface PtProxy {
  scheme: "http" | "socks4a" | "socks5";
  /** An IP literal (IPv6 without brackets). */
  hostname: string;
  port: number;
  username: string | null;
  password: string | null;
}

/** What {@link parseClientEnv} returns. */
export interface ClientInfo {
  /** TOR_PT_CLIENT_TRANSPORTS, in order (`*` stays `*`). */
  methodNames: string[];
  proxy: PtProxy | null;
  stateLocation: string | null;
  exitOnStdinClose: boolean;
}

/** A bad TOR_PT_PROXY, reported with `PROXY-ERROR`. */
export class PtProxyError extends Error {
  readonly keyword = "PROXY-ERROR";
  constructor(message: string) {
    super(message);
    this.name = "PtProxyError";
  }
}

function percentDecode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new PtProxyError(`TOR_PT_PROXY ${what} has a bad percent escape`);
  }
}

/**
 * Parses a TOR_PT_PROXY URI: `http://[user[:pass]@]ip:port`, `socks4a://[user@]ip:port` or
 * `socks5://[user[:pass]@]ip:port` (user and password 1–255 bytes for SOCKS5). The host must
 * be an IP literal and the port explicit, as pt-spec requires.
 */
export function parseProxyUri(uri: string): PtProxy {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/.exec(uri);
  if (!m) throw new PtProxyError(`TOR_PT_PROXY ${JSON.stringify(uri)} is not a URI`);
  const [, rawScheme, authority, path, query, fragment] = m;
  const scheme = rawScheme!.toLowerCase();
  if (scheme !== "http" && scheme !== "socks4a" && scheme !== "socks5") {
    throw new PtProxyError(`TOR_PT_PROXY scheme ${JSON.stringify(scheme)} is not supported`);
  }
  if (query !== undefined) throw new PtProxyError("TOR_PT_PROXY: query string not allowed");
  if (fragment !== undefined) throw new PtProxyError("TOR_PT_PROXY: fragment not allowed");
  if (path !== "" && path !== "/") {
    throw new PtProxyError(`TOR_PT_PROXY: path ${JSON.stringify(path)} not allowed`);
  }
  const at = authority!.lastIndexOf("@");
  const userinfo = at >= 0 ? authority!.slice(0, at) : null;
  const hostport = authority!.slice(at + 1);
  let username: string | null = null;
  let password: string | null = null;
  if (userinfo !== null) {
    const colon = userinfo.indexOf(":");
    username = percentDecode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, "username");
    password = colon >= 0 ? percentDecode(userinfo.slice(colon + 1), "password") : null;
  }
  if (scheme === "socks4a" && password !== null) {
    throw new PtProxyError("TOR_PT_PROXY: socks4a does not take a password");
  }
  if (scheme === "socks5" && userinfo !== null) {
    const len = (s: string | null) => new TextEncoder().encode(s ?? "").length;
    if (len(username) < 1 || len(username) > 255) {
      throw new PtProxyError("TOR_PT_PROXY: socks5 username must be 1 to 255 bytes");
    }
    if (len(password) < 1 || len(password) > 255) {
      throw new PtProxyError("TOR_PT_PROXY: socks5 password must be 1 to 255 bytes");
    }
  }
  const hp = /^(?:\[([^\]]*)\]|([^:\[\]]*)):(\d*)$/.exec(hostport);
  if (!hp) throw new PtProxyError(`TOR_PT_PROXY: ${JSON.stringify(hostport)} has no port`);
  const hostname = hp[1] ?? hp[2]!;
  if (!isIP(hostname) || (hp[1] === undefined && hostname.includes(":"))) {
    throw new PtProxyError(`TOR_PT_PROXY: host ${JSON.stringify(hostname)} is not an IP address`);
  }
  const port = Number(hp[3]);
  if (hp[3] === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PtProxyError(`TOR_PT_PROXY: port ${JSON.stringify(hp[3])} is invalid`);
  }
  return { scheme, hostname, port, username, password };
}

/**
 * Parses the client environment in goptlib's order: version, transports, proxy. Throws
 * {@link PtSetupError} (ENV-ERROR / VERSION-ERROR) or {@link PtProxyError} (PROXY-ERROR).
 */
export function parseClientEnv(getenv: Getenv = (k) => Deno.env.get(k)): ClientInfo {
  parseManagedTransportVer(getenv);
  const transports = getenv("TOR_PT_CLIENT_TRANSPORTS");
  if (transports === undefined) {
    throw new PtSetupError("ENV-ERROR", "no TOR_PT_CLIENT_TRANSPORTS environment variable");
  }
  const rawProxy = getenv("TOR_PT_PROXY") ?? "";
  return {
    methodNames: transports.split(","),
    proxy: rawProxy === "" ? null : parseProxyUri(rawProxy),
    stateLocation: getenv("TOR_PT_STATE_LOCATION") || null,
    exitOnStdinClose: getenv("TOR_PT_EXIT_ON_STDIN_CLOSE") === "1",
  };
}

/**
 * goptlib ClientSetup: prints `VERSION 1` once the version is agreed, then parses the rest.
 * On failure prints the error line and rethrows. The caller answers a proxy with
 * `PROXY DONE` (once it uses it) or `PROXY-ERROR`.
 */
export function clientSetup(out: PtStdout, getenv?: Getenv): ClientInfo {
  const env = getenv ?? ((k: string) => Deno.env.get(k));
  try {
    out.version(parseManagedTransportVer(env));
    return parseClientEnv(env);
  } catch (e) {
    if (e instanceof PtSetupError || e instanceof PtProxyError) out.line(e.keyword, e.message);
    throw e;
  }
}

/** True when tor asked for `name` (or for every transport with `*`). */
export function wantsMethod(info: ClientInfo, name: string): boolean {
  return info.methodNames.includes("*") || info.methodNames.includes(name);
}
