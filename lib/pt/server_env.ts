/**
 * The server side of the PT environment (pt-spec §3.2, docs/PROTOCOL.md §8), parsed the way
 * goptlib's ServerSetup does: the same checks in the same order, the same error lines.
 *
 * @module
 */
import type { PtStdout } from "./stdout.ts";

/** Transport options for one method: each key may repeat (goptlib `Args`). */
export type PtArgs = Map<string, string[]>;

/** An IP address and port from the environment. */
export interface PtAddr {
  hostname: string;
  port: number;
}

/** One `method-addr` entry of TOR_PT_SERVER_BINDADDR. */
export interface Bindaddr {
  methodName: string;
  addr: PtAddr;
  options: PtArgs;
}

/** What {@link parseServerEnv} returns. */
export interface ServerInfo {
  bindaddrs: Bindaddr[];
  orAddr: PtAddr | null;
  extendedOrAddr: PtAddr | null;
  authCookiePath: string | null;
  stateLocation: string | null;
  exitOnStdinClose: boolean;
}

/** A setup failure and the stdout line that reports it (`ENV-ERROR` or `VERSION-ERROR`). */
export class PtSetupError extends Error {
  constructor(readonly keyword: "ENV-ERROR" | "VERSION-ERROR", message: string) {
    super(message);
    this.name = "PtSetupError";
  }
}

/** Looks up an environment variable; undefined when unset. */
export type Getenv = (key: string) => string | undefined;

// Spec constants.
/** The only managed-transport protocol version (pt-spec §3.2.1). */
export const PT_VERSION = "1";

/** `host:port` → address, goptlib's resolveAddr: an IP literal and a 16-bit port. */
export function resolveAddr(s: string): PtAddr {
  let host: string;
  let port: string;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) throw new SyntaxError(`address ${s}: missing ']' in address`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest === "") throw new SyntaxError(`address ${s}: missing port in address`);
    if (!rest.startsWith(":")) throw new SyntaxError(`address ${s}: unexpected text after ']'`);
    port = rest.slice(1);
  } else {
    const i = s.lastIndexOf(":");
    if (i < 0) throw new SyntaxError(`address ${s}: missing port in address`);
    host = s.slice(0, i);
    if (host.includes(":")) throw new SyntaxError(`address ${s}: too many colons in address`);
    port = s.slice(i + 1);
  }
  if (host === "") throw new SyntaxError(`address string ${JSON.stringify(s)} lacks a host part`);
  if (port === "") throw new SyntaxError(`address string ${JSON.stringify(s)} lacks a port part`);
  if (!isIP(host)) throw new SyntaxError(`not an IP string: ${JSON.stringify(host)}`);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new RangeError(`invalid port ${JSON.stringify(port)}`);
  }
  return { hostname: host, port: Number(port) };
}

/** An IPv4 literal (no leading zeros, like Go) or an IPv6 literal without zone. */
export function isIPv4(s: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s);
}

export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

/** `host:port` as Go prints it. */
export function formatAddr(a: PtAddr): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/**
 * Reads up to the first unescaped byte in `stops`, undoing `\` escapes. Returns the offset
 * of the stop (or the end) and the unescaped text.
 */
function indexUnescaped(s: string, stops: string): [number, string] {
  let out = "";
  let i = 0;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (stops.includes(c)) break;
    if (c === "\\") {
      i++;
      if (i >= s.length) throw new SyntaxError("terminal backslash at end of string");
      out += s[i]!;
    } else {
      out += c;
    }
  }
  return [i, out];
}

/**
 * TOR_PT_SERVER_TRANSPORT_OPTIONS: `method:key=value;method:key=value`, with `\` escaping
 * `:`, `;`, `=` and `\`.
 */
export function parseServerTransportOptions(s: string): Map<string, PtArgs> {
  const opts = new Map<string, PtArgs>();
  let i = 0;
  while (i < s.length) {
    const begin = i;
    const [o1, method] = indexUnescaped(s.slice(i), ":=;");
    i += o1;
    if (i >= s.length || s[i] !== ":") {
      throw new SyntaxError(`no colon in ${JSON.stringify(s.slice(begin, i))}`);
    }
    i++;
    const [o2, key] = indexUnescaped(s.slice(i), "=;");
    i += o2;
    if (i >= s.length || s[i] !== "=") {
      throw new SyntaxError(`no equals sign in ${JSON.stringify(s.slice(begin, i))}`);
    }
    i++;
    const [o3, value] = indexUnescaped(s.slice(i), ";");
    i += o3;
    if (method === "") {
      throw new SyntaxError(`empty method name in ${JSON.stringify(s.slice(begin, i))}`);
    }
    if (key === "") throw new SyntaxError(`empty key in ${JSON.stringify(s.slice(begin, i))}`);
    let args = opts.get(method);
    if (!args) opts.set(method, args = new Map());
    const values = args.get(key);
    if (values) values.push(value);
    else args.set(key, [value]);
    i++; // the semicolon (or past the end)
  }
  return opts;
}

/** First value of `key`, or undefined. */
export function getArg(args: PtArgs, key: string): string | undefined {
  return args.get(key)?.[0];
}

function envError(message: string): PtSetupError {
  return new PtSetupError("ENV-ERROR", message);
}

function strict(getenv: Getenv, key: string): string {
  const v = getenv(key);
  if (v === undefined) throw envError(`no ${key} environment variable`);
  return v;
}

/** TOR_PT_MANAGED_TRANSPORT_VER: "1" must be among the offered versions. */
export function parseManagedTransportVer(getenv: Getenv): string {
  const offered = strict(getenv, "TOR_PT_MANAGED_TRANSPORT_VER");
  if (offered.split(",").includes(PT_VERSION)) return PT_VERSION;
  throw new PtSetupError("VERSION-ERROR", "no-version");
}

function parseBindaddrs(getenv: Getenv): Bindaddr[] {
  const rawOptions = getenv("TOR_PT_SERVER_TRANSPORT_OPTIONS") ?? "";
  let options: Map<string, PtArgs>;
  try {
    options = parseServerTransportOptions(rawOptions);
  } catch (e) {
    throw envError(
      `TOR_PT_SERVER_TRANSPORT_OPTIONS: ${JSON.stringify(rawOptions)}: ${(e as Error).message}`,
    );
  }
  const result: Bindaddr[] = [];
  const seen = new Set<string>();
  for (const spec of strict(getenv, "TOR_PT_SERVER_BINDADDR").split(",")) {
    const dash = spec.indexOf("-");
    if (dash < 0) {
      throw envError(`TOR_PT_SERVER_BINDADDR: ${JSON.stringify(spec)}: doesn't contain "-"`);
    }
    const methodName = spec.slice(0, dash);
    if (seen.has(methodName)) {
      throw envError(
        `TOR_PT_SERVER_BINDADDR: ${JSON.stringify(spec)}: duplicate method name ${
          JSON.stringify(methodName)
        }`,
      );
    }
    seen.add(methodName);
    let addr: PtAddr;
    try {
      addr = resolveAddr(spec.slice(dash + 1));
    } catch (e) {
      throw envError(`TOR_PT_SERVER_BINDADDR: ${JSON.stringify(spec)}: ${(e as Error).message}`);
    }
    result.push({ methodName, addr, options: options.get(methodName) ?? new Map() });
  }
  const transports = strict(getenv, "TOR_PT_SERVER_TRANSPORTS");
  if (transports === "*") return result;
  const wanted = new Set(transports.split(","));
  return result.filter((b) => wanted.has(b.methodName));
}

/**
 * Parses the server environment. Throws {@link PtSetupError} naming the stdout line to print.
 * The order of checks follows goptlib, so the first error reported is the same.
 */
export function parseServerEnv(getenv: Getenv = (k) => Deno.env.get(k)): ServerInfo {
  parseManagedTransportVer(getenv);
  const bindaddrs = parseBindaddrs(getenv);

  let orAddr: PtAddr | null = null;
  const orPort = getenv("TOR_PT_ORPORT") ?? "";
  if (orPort !== "") {
    try {
      orAddr = resolveAddr(orPort);
    } catch (e) {
      throw envError(
        `cannot resolve TOR_PT_ORPORT ${JSON.stringify(orPort)}: ${(e as Error).message}`,
      );
    }
  }

  const authCookiePath = getenv("TOR_PT_AUTH_COOKIE_FILE") || null;
  let extendedOrAddr: PtAddr | null = null;
  const extPort = getenv("TOR_PT_EXTENDED_SERVER_PORT") ?? "";
  if (extPort !== "") {
    if (!authCookiePath) {
      throw envError(
        "need TOR_PT_AUTH_COOKIE_FILE environment variable with TOR_PT_EXTENDED_SERVER_PORT",
      );
    }
    try {
      extendedOrAddr = resolveAddr(extPort);
    } catch (e) {
      throw envError(
        `cannot resolve TOR_PT_EXTENDED_SERVER_PORT ${JSON.stringify(extPort)}: ${
          (e as Error).message
        }`,
      );
    }
  }
  if (orAddr === null && extendedOrAddr === null) {
    throw envError("need TOR_PT_ORPORT or TOR_PT_EXTENDED_SERVER_PORT environment variable");
  }
  return {
    bindaddrs,
    orAddr,
    extendedOrAddr,
    authCookiePath,
    stateLocation: getenv("TOR_PT_STATE_LOCATION") || null,
    exitOnStdinClose: getenv("TOR_PT_EXIT_ON_STDIN_CLOSE") === "1",
  };
}

/**
 * goptlib ServerSetup: prints `VERSION 1` once the version is agreed, then parses the rest.
 * On failure prints the error line and rethrows the {@link PtSetupError}.
 */
export function serverSetup(out: PtStdout, getenv?: Getenv): ServerInfo {
  const env = getenv ?? ((k: string) => Deno.env.get(k));
  try {
    out.version(parseManagedTransportVer(env));
    return parseServerEnv(env);
  } catch (e) {
    if (e instanceof PtSetupError) out.line(e.keyword, e.message);
    throw e;
  }
}

/** goptlib MakeStateDir: creates TOR_PT_STATE_LOCATION (0700) and returns it. */
export async function makeStateDir(info: ServerInfo): Promise<string> {
  if (!info.stateLocation) throw envError("no TOR_PT_STATE_LOCATION environment variable");
  await Deno.mkdir(info.stateLocation, { recursive: true, mode: 0o700 });
  return info.stateLocation;
}
