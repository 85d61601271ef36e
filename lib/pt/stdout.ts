/**
 * Lines a managed pluggable transport prints on stdout for tor (pt-spec §3.3), shared by
 * the client and the server side. Every line is written with one synchronous write, so
 * lines never interleave and survive an immediate exit.
 *
 * @example
 * ```ts
 * import { PtStdout } from "./stdout.ts";
 * const out = new PtStdout((line) => console.log(line));
 * out.version();
 * out.smethod("snowflake", "127.0.0.1:7000", [["tls", "no"]]);
 * out.smethodsDone();
 * ```
 *
 * @module
 */

/** pt-spec LOG severities. */
export type LogSeverity = "error" | "warning" | "notice" | "info" | "debug";

const KEYWORD = /^[A-Za-z0-9_-]+$/;

/**
 * Makes one argument safe for a line: tor splits lines on LF and expects ASCII, so LF and
 * CR become spaces and other control or non-ASCII characters become `?`. (goptlib panics on
 * such arguments; a bad error message must not crash the transport.)
 */
export function sanitizeArg(arg: string): string {
  return arg.replace(/[\r\n]/g, " ").replace(/[^\x20-\x7e\t]/g, "?");
}

/** `KEYWORD arg1 arg2 ...`. Throws TypeError for a keyword tor could not parse. */
export function formatLine(keyword: string, ...args: string[]): string {
  if (!KEYWORD.test(keyword)) {
    throw new TypeError(`PT keyword ${JSON.stringify(keyword)} is invalid`);
  }
  return [keyword, ...args.map(sanitizeArg)].join(" ");
}

/**
 * pt-spec CString: a double-quoted string with `\\`, `\"`, `\n`, `\r`, `\t` escapes and
 * other bytes outside printable ASCII as three-digit octal escapes of their UTF-8 bytes.
 */
export function encodeCString(s: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(s)) {
    if (b === 0x5c) out += "\\\\";
    else if (b === 0x22) out += '\\"';
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += "\\" + b.toString(8).padStart(3, "0");
  }
  return out + '"';
}

/** Escapes `\` and each of `specials` with a backslash. */
export function backslashEscape(s: string, specials: string): string {
  let out = "";
  for (const c of s) out += c === "\\" || specials.includes(c) ? "\\" + c : c;
  return out;
}

/** SMETHOD `ARGS:` value: `k=v,k=v` in the given order, `=`, `,` and `\` escaped. */
export function encodeSmethodArgs(args: Iterable<readonly [string, string]>): string {
  const pairs: string[] = [];
  for (const [k, v] of args) pairs.push(`${backslashEscape(k, "=,")}=${backslashEscape(v, "=,")}`);
  return pairs.join(",");
}

/** A STATUS value: bare when it is a plain token, else a CString. */
function statusValue(v: string): string {
  return /^[A-Za-z0-9_.:/@+-]*$/.test(v) && v !== "" ? v : encodeCString(v);
}

const encoder = new TextEncoder();

/** Writes a line to stdout synchronously. */
export function writeStdout(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** The PT stdout protocol, one method per line type. */
export class PtStdout {
  #write: (line: string) => void;

  constructor(write: (line: string) => void = writeStdout) {
    this.#write = write;
  }

  line(keyword: string, ...args: string[]): void {
    this.#write(formatLine(keyword, ...args));
  }

  version(version = "1"): void {
    this.line("VERSION", version);
  }
  versionError(message = "no-version"): void {
    this.line("VERSION-ERROR", message);
  }
  envError(message: string): void {
    this.line("ENV-ERROR", message);
  }

  /** `SMETHOD name addr [ARGS:k=v,...]`. */
  smethod(name: string, addr: string, args?: Iterable<readonly [string, string]>): void {
    const encoded = args ? encodeSmethodArgs(args) : "";
    if (encoded) this.line("SMETHOD", name, addr, `ARGS:${encoded}`);
    else this.line("SMETHOD", name, addr);
  }
  smethodError(name: string, message: string): void {
    this.line("SMETHOD-ERROR", name, message);
  }
  smethodsDone(): void {
    this.line("SMETHODS", "DONE");
  }

  /** `CMETHOD name socks5 addr`. */
  cmethod(name: string, socks: "socks4" | "socks5", addr: string): void {
    this.line("CMETHOD", name, socks, addr);
  }
  cmethodError(name: string, message: string): void {
    this.line("CMETHOD-ERROR", name, message);
  }
  cmethodsDone(): void {
    this.line("CMETHODS", "DONE");
  }

  proxyDone(): void {
    this.line("PROXY", "DONE");
  }
  proxyError(message: string): void {
    this.line("PROXY-ERROR", message);
  }

  /** `LOG SEVERITY=sev MESSAGE="..."`; the caller scrubs the message first. */
  log(severity: LogSeverity, message: string): void {
    this.line("LOG", `SEVERITY=${severity}`, `MESSAGE=${encodeCString(message)}`);
  }

  /** `STATUS TRANSPORT=name K=V ...` (pt-spec 3.3.5). */
  status(transport: string, fields: Record<string, string>): void {
    const kv = Object.entries(fields).map(([k, v]) => {
      if (!KEYWORD.test(k)) throw new TypeError(`STATUS key ${JSON.stringify(k)} is invalid`);
      return `${k}=${statusValue(v)}`;
    });
    this.line("STATUS", `TRANSPORT=${statusValue(transport)}`, ...kv);
  }
}
