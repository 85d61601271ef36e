/**
 * server.yaml and client.yaml: parsed with npm `yaml`, validated field by field.
 * Every error names the file, the field and the problem, e.g.
 * `server.yaml: peers[1].tunnel_ip: "10.0.0.300" is not an IPv4 address`.
 *
 * @module
 */

import { parseDocument } from "yaml";
import { basename } from "node:path";
import {
  type Cidr,
  contains,
  formatIPv4,
  mask,
  parseCidr,
  parseHostPort,
  parseIPv4,
  parseIPv6,
} from "./ipaddr.ts";

/** A configuration problem; the message is ready to show to the user. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The unix socket of the status and control endpoint (pytunnel/control.ts). */
export type StatusEndpoint = { path: string };

/** One authorised client of the server. */
export interface PeerConfig {
  name: string;
  publicKey: Uint8Array;
  tunnelIp: string;
  /** Its IPv6 tunnel address, if the server has `tunnel_ip6`. */
  tunnelIp6?: string;
}

/** Handshake rate limit per source address. */
export interface RateLimitConfig {
  handshakesPerSecond: number;
  burst: number;
}

/** A validated server.yaml. */
export interface ServerConfig {
  file: string;
  listenAddress: string;
  listenPort: number;
  privateKey: Uint8Array;
  /** Tunnel address with prefix, e.g. 10.8.0.1/24. */
  tunnelIp: string;
  /** IPv6 tunnel address with prefix, e.g. fd09::1/64, if any. */
  tunnelIp6?: string;
  interface?: string;
  mtu: number;
  peers: PeerConfig[];
  replayWindow: number;
  rateLimit: RateLimitConfig;
  status?: StatusEndpoint;
}

/** A validated client.yaml. */
export interface ClientConfig {
  file: string;
  serverHost: string;
  serverPort: number;
  serverPublicKey: Uint8Array;
  privateKey: Uint8Array;
  tunnelIp: string;
  /** IPv6 tunnel address with prefix, e.g. fd09::2/64, if any. */
  tunnelIp6?: string;
  interface?: string;
  mtu: number;
  /** Keepalive interval in seconds; 0 disables. */
  keepalive: number;
  replayWindow: number;
  status?: StatusEndpoint;
}

const DEFAULT_MTU = 1420;
const DEFAULT_REPLAY_WINDOW = 8128;

type Obj = Record<string, unknown>;

/**
 * Anything shaped like a base64 X25519 key, replaced by its length: no error
 * message may echo a key, whatever field or file it came from.
 */
export function redactKeys(text: string): string {
  return text.replace(/[A-Za-z0-9+/]{43}=/g, "<a 44-character key, not shown>");
}

/** Validation context: knows the file name and how to name a field. */
class Ctx {
  constructor(readonly file: string, readonly dir: string) {}
  fail(field: string, problem: string): never {
    throw new ConfigError(redactKeys(`${this.file}: ${field ? field + ": " : ""}${problem}`));
  }
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
}

function obj(c: Ctx, v: unknown, field: string): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    // The value itself is not shown: it may be a key (a key file given as -c).
    const what = typeof v === "string" ? `a string of ${v.length} characters` : `${typeof v}`;
    c.fail(field, `must be a mapping of fields, got ${v === null ? "nothing" : what}`);
  }
  return v as Obj;
}

function onlyKeys(c: Ctx, o: Obj, prefix: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      c.fail(prefix + k, `unknown field (expected one of ${allowed.join(", ")})`);
    }
  }
}

function str(c: Ctx, o: Obj, key: string, field: string): string {
  const v = o[key];
  if (v === undefined || v === null) c.fail(field, "is required");
  if (typeof v !== "string" || v.trim() === "") c.fail(field, `must be a non-empty string`);
  return v.trim();
}

function optStr(c: Ctx, o: Obj, key: string, field: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(c, o, key, field);
}

function int(
  c: Ctx,
  o: Obj,
  key: string,
  field: string,
  min: number,
  max: number,
  dflt?: number,
): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) c.fail(field, "is required");
    return dflt;
  }
  if (typeof v !== "number" || !Number.isInteger(v)) {
    c.fail(field, `${show(v)} is not an integer`);
  }
  if (v < min || v > max) c.fail(field, `${v} is out of range (${min} to ${max})`);
  return v;
}

function ipv4(c: Ctx, v: string, field: string): number {
  const n = parseIPv4(v);
  if (n === null) c.fail(field, `${show(v)} is not an IPv4 address`);
  return n;
}

function cidr(c: Ctx, v: string, field: string): Cidr {
  if (!v.includes("/")) c.fail(field, `${show(v)} needs a prefix length, e.g. ${v}/24`);
  const [addr] = v.split("/");
  ipv4(c, addr!, field);
  const n = parseCidr(v);
  if (!n) c.fail(field, `${show(v)} is not an IPv4 address with a prefix length (0 to 32)`);
  if (n.prefix > 30) c.fail(field, `prefix /${n.prefix} in ${show(v)} leaves no room for peers`);
  const host = n.address & ~mask(n.prefix);
  if (host === 0 || host === (~mask(n.prefix) >>> 0)) {
    c.fail(field, `${show(v)} is the network or broadcast address`);
  }
  return n;
}

/** An IPv6 address with a prefix length (1 to 128); its bytes and prefix. */
function cidr6(c: Ctx, v: string, field: string): { address: Uint8Array; prefix: number } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v);
  if (!m) c.fail(field, `${show(v)} needs a prefix length, e.g. ${v}/64`);
  const address = parseIPv6(m[1]!);
  if (!address) c.fail(field, `${show(v)} is not an IPv6 address`);
  const prefix = Number(m[2]);
  if (prefix < 1 || prefix > 126) c.fail(field, `prefix /${prefix} in ${show(v)} must be 1 to 126`);
  return { address, prefix };
}

function ipv6(c: Ctx, v: string, field: string): Uint8Array {
  const a = parseIPv6(v);
  if (!a) c.fail(field, `${show(v)} is not an IPv6 address`);
  return a;
}

function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((a[bit >> 3]! & m) !== (b[bit >> 3]! & m)) return false;
  }
  return true;
}

/** Decodes standard base64 of exactly 32 bytes. */
export function decodeKey(text: string): Uint8Array | null {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(t)) return null;
  const bin = atob(t);
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

function key(c: Ctx, v: string, field: string): Uint8Array {
  const k = decodeKey(v);
  if (!k) c.fail(field, `is not a base64 X25519 key (44 characters ending in "=")`);
  return k;
}

/**
 * Reads a secret key file; refuses it unless only its owner can read it.
 * Throws ConfigError naming the field.
 */
export function readKeyFile(
  c: { fail(field: string, problem: string): never },
  path: string,
  field: string,
): Uint8Array {
  const fail = (e: unknown) => c.fail(field, `cannot read ${show(path)}: ${(e as Error).message}`);
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    return fail(e);
  }
  if (!st.isFile) c.fail(field, `${show(path)} is not a regular file`);
  const mode = st.mode ?? 0;
  if (mode & 0o077) {
    const m = (mode & 0o777).toString(8).padStart(4, "0");
    c.fail(
      field,
      `${show(path)} is readable by group or others (mode ${m}); run: chmod 600 ${path}`,
    );
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    return fail(e);
  }
  const k = decodeKey(text);
  if (!k) c.fail(field, `${show(path)} does not hold a base64 X25519 key`);
  return k;
}

function resolvePath(c: Ctx, p: string): string {
  return p.startsWith("/") ? p : `${c.dir}/${p}`;
}

function privateKey(c: Ctx, o: Obj): Uint8Array {
  const inline = optStr(c, o, "private_key", "private_key");
  const file = optStr(c, o, "private_key_file", "private_key_file");
  if (inline && file) {
    c.fail("private_key", "give either private_key or private_key_file, not both");
  }
  if (inline) return key(c, inline, "private_key");
  if (file) return readKeyFile(c, resolvePath(c, file), "private_key_file");
  return c.fail("private_key", "is required (or private_key_file)");
}

function status(c: Ctx, o: Obj): StatusEndpoint | undefined {
  const v = o.status;
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string" && (v.startsWith("/") || v.startsWith("./"))) {
    return { path: resolvePath(c, v) };
  }
  return c.fail(
    "status",
    `${show(v)} is not a socket path; a TCP port would let every local user read the ` +
      `status, so it must be a unix socket path (created 0600), e.g. /run/pytunnel.sock`,
  );
}

function hostPort(c: Ctx, v: string, field: string): { hostname: string; port: number } {
  try {
    return parseHostPort(v);
  } catch (e) {
    return c.fail(field, (e as Error).message);
  }
}

function parseYaml(text: string, file: string): Obj {
  const doc = parseDocument(text, { uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
    const first = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(redactKeys(`${file}: ${where}${first}`));
  }
  const v = doc.toJS();
  const c = new Ctx(file, ".");
  return obj(c, v, "");
}

const SERVER_KEYS = [
  "listen_address",
  "listen_port",
  "private_key",
  "private_key_file",
  "tunnel_ip",
  "tunnel_ip6",
  "interface",
  "mtu",
  "peers",
  "replay_window",
  "rate_limit",
  "status",
] as const;

/** Validates the text of a server.yaml. `path` is used for messages and relative key files. */
export function parseServerConfig(text: string, path: string): ServerConfig {
  const file = basename(path);
  const c = new Ctx(file, dirOf(path));
  const o = parseYaml(text, file);
  if (o.server !== undefined && o.peers === undefined) {
    c.fail("", "this is a client config (it has `server:`): run it with `pytunnel client -c`");
  }
  onlyKeys(c, o, "", SERVER_KEYS);
  const listenAddress = optStr(c, o, "listen_address", "listen_address") ?? "0.0.0.0";
  if (parseIPv4(listenAddress) === null && parseIPv6(listenAddress) === null) {
    c.fail("listen_address", `${show(listenAddress)} is not an IPv4 or IPv6 address`);
  }
  const listenPort = int(c, o, "listen_port", "listen_port", 1, 65535);
  const pk = privateKey(c, o);
  const tunnelIp = str(c, o, "tunnel_ip", "tunnel_ip");
  const net = cidr(c, tunnelIp, "tunnel_ip");
  const tunnelIp6 = optStr(c, o, "tunnel_ip6", "tunnel_ip6");
  const net6 = tunnelIp6 === undefined ? null : cidr6(c, tunnelIp6, "tunnel_ip6");
  const iface = ifname(c, o);
  const mtu = int(c, o, "mtu", "mtu", 576, 65535, DEFAULT_MTU);
  const replayWindow = int(
    c,
    o,
    "replay_window",
    "replay_window",
    64,
    1 << 20,
    DEFAULT_REPLAY_WINDOW,
  );
  let rateLimit: RateLimitConfig = { handshakesPerSecond: 20, burst: 40 };
  if (o.rate_limit !== undefined && o.rate_limit !== null) {
    const r = obj(c, o.rate_limit, "rate_limit");
    onlyKeys(c, r, "rate_limit.", ["handshakes_per_second", "burst"]);
    const hps = int(c, r, "handshakes_per_second", "rate_limit.handshakes_per_second", 1, 1e6, 20);
    rateLimit = {
      handshakesPerSecond: hps,
      burst: int(c, r, "burst", "rate_limit.burst", 1, 1e6, hps * 2),
    };
  }
  const rawPeers: unknown = o.peers ?? [];
  if (!Array.isArray(rawPeers)) return c.fail("peers", "must be a list");
  const peers: PeerConfig[] = [];
  const seenKeys = new Map<string, number>();
  const seenIps = new Map<number, number>();
  const seenIps6 = new Map<string, number>();
  const seenNames = new Map<string, number>();
  rawPeers.forEach((raw: unknown, i: number) => {
    const f = `peers[${i}]`;
    const p = obj(c, raw, f);
    onlyKeys(c, p, `${f}.`, ["name", "public_key", "tunnel_ip", "tunnel_ip6"]);
    const name = str(c, p, "name", `${f}.name`);
    const pubText = str(c, p, "public_key", `${f}.public_key`);
    const publicKey = key(c, pubText, `${f}.public_key`);
    let ipText = str(c, p, "tunnel_ip", `${f}.tunnel_ip`);
    if (ipText.endsWith("/32")) ipText = ipText.slice(0, -3);
    const ip = ipv4(c, ipText, `${f}.tunnel_ip`);
    if (!contains(net, ip)) {
      c.fail(`${f}.tunnel_ip`, `${show(ipText)} is outside the server's tunnel_ip ${tunnelIp}`);
    }
    if (ip === net.address) {
      c.fail(`${f}.tunnel_ip`, `${show(ipText)} is the server's own tunnel address`);
    }
    const b64 = btoa(String.fromCharCode(...publicKey));
    const dupKey = seenKeys.get(b64);
    if (dupKey !== undefined) c.fail(`${f}.public_key`, `same key as peers[${dupKey}]`);
    const dupIp = seenIps.get(ip);
    if (dupIp !== undefined) {
      c.fail(`${f}.tunnel_ip`, `${ipText} is already used by peers[${dupIp}]`);
    }
    const dupName = seenNames.get(name);
    if (dupName !== undefined) {
      c.fail(`${f}.name`, `${show(name)} is already used by peers[${dupName}]`);
    }
    let peerIp6: string | undefined;
    const ip6Text = optStr(c, p, "tunnel_ip6", `${f}.tunnel_ip6`)?.replace(/\/128$/, "");
    if (ip6Text !== undefined) {
      if (!net6) return c.fail(`${f}.tunnel_ip6`, "the server has no tunnel_ip6");
      const a = ipv6(c, ip6Text, `${f}.tunnel_ip6`);
      if (!samePrefix(a, net6.address, net6.prefix)) {
        c.fail(
          `${f}.tunnel_ip6`,
          `${show(ip6Text)} is outside the server's tunnel_ip6 ${tunnelIp6}`,
        );
      }
      const k = [...a].join(".");
      const dup = seenIps6.get(k);
      if (dup !== undefined) {
        c.fail(`${f}.tunnel_ip6`, `${ip6Text} is already used by peers[${dup}]`);
      }
      if (k === [...net6.address].join(".")) {
        c.fail(`${f}.tunnel_ip6`, `${show(ip6Text)} is the server's own tunnel address`);
      }
      seenIps6.set(k, i);
      peerIp6 = ip6Text;
    }
    seenKeys.set(b64, i);
    seenIps.set(ip, i);
    seenNames.set(name, i);
    peers.push({ name, publicKey, tunnelIp: formatIPv4(ip), tunnelIp6: peerIp6 });
  });
  return {
    file,
    listenAddress,
    listenPort,
    privateKey: pk,
    tunnelIp,
    tunnelIp6,
    interface: iface,
    mtu,
    peers,
    replayWindow,
    rateLimit,
    status: status(c, o),
  };
}

const CLIENT_KEYS = [
  "server",
  "server_public_key",
  "private_key",
  "private_key_file",
  "tunnel_ip",
  "tunnel_ip6",
  "interface",
  "mtu",
  "keepalive",
  "replay_window",
  "status",
] as const;

/** Validates the text of a client.yaml. */
export function parseClientConfig(text: string, path: string): ClientConfig {
  const file = basename(path);
  const c = new Ctx(file, dirOf(path));
  const o = parseYaml(text, file);
  if (o.peers !== undefined && o.server === undefined) {
    c.fail("", "this is a server config (it has `peers:`): run it with `pytunnel server -c`");
  }
  onlyKeys(c, o, "", CLIENT_KEYS);
  const server = str(c, o, "server", "server");
  const hp = hostPort(c, server, "server");
  if (/^[0-9.]+$/.test(hp.hostname)) ipv4(c, hp.hostname, "server");
  else if (hp.hostname.includes(":")) ipv6(c, hp.hostname, "server");
  else if (!/^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$/.test(hp.hostname)) {
    c.fail("server", `${show(hp.hostname)} is not an IP address or host name ([v6]:port for IPv6)`);
  }
  const serverPublicKey = key(
    c,
    str(c, o, "server_public_key", "server_public_key"),
    "server_public_key",
  );
  const pk = privateKey(c, o);
  const tunnelIp = str(c, o, "tunnel_ip", "tunnel_ip");
  cidr(c, tunnelIp, "tunnel_ip");
  const tunnelIp6 = optStr(c, o, "tunnel_ip6", "tunnel_ip6");
  if (tunnelIp6 !== undefined) cidr6(c, tunnelIp6, "tunnel_ip6");
  return {
    file,
    serverHost: hp.hostname,
    serverPort: hp.port,
    serverPublicKey,
    privateKey: pk,
    tunnelIp,
    tunnelIp6,
    interface: ifname(c, o),
    mtu: int(c, o, "mtu", "mtu", 576, 65535, DEFAULT_MTU),
    keepalive: int(c, o, "keepalive", "keepalive", 0, 3600, 10),
    replayWindow: int(c, o, "replay_window", "replay_window", 64, 1 << 20, DEFAULT_REPLAY_WINDOW),
    status: status(c, o),
  };
}

function ifname(c: Ctx, o: Obj): string | undefined {
  const v = optStr(c, o, "interface", "interface");
  if (v === undefined) return undefined;
  if (new TextEncoder().encode(v).length > 15 || /[\s/:]/.test(v)) {
    c.fail(
      "interface",
      `${show(v)} is not a valid interface name (1 to 15 bytes, no / : or spaces)`,
    );
  }
  return v;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** Reads and validates a config file; read errors also become ConfigError. */
export function loadConfig<T>(path: string, parse: (text: string, path: string) => T): T {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new ConfigError(`${basename(path)}: cannot read ${path}: ${(e as Error).message}`);
  }
  const config = parse(text, path);
  const mode = Deno.statSync(path).mode ?? 0;
  if (/^private_key\s*:/m.test(text) && mode & 0o077) {
    const m = (mode & 0o777).toString(8).padStart(4, "0");
    throw new ConfigError(
      `${basename(path)}: private_key: the file holds a private key but is readable by group ` +
        `or others (mode ${m}); run: chmod 600 ${path} (or move the key to private_key_file)`,
    );
  }
  return config;
}
