/**
 * AMP cache URLs (docs/BROKER.md, "AMP cache"): how a client turns the broker URL it wants
 * to reach into the URL of the same document on an AMP cache, e.g.
 * `https://broker.example/amp/client/...` → `https://broker-example.cdn.ampproject.org/c/s/broker.example/amp/client/...`.
 * URLs are parsed the way Go's net/url does (raw path kept, no normalisation), so the result
 * equals the Go client's.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { domainToAscii, domainToUnicode } from "./punycode.ts";

interface RawUrl {
  scheme: string;
  userinfo: string | null;
  host: string;
  path: string;
  query: string | null;
  fragment: string | null;
}

function parseRawUrl(raw: string): RawUrl {
  const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s
    .exec(raw);
  if (!m) throw new SyntaxError(`cannot parse URL ${JSON.stringify(raw)}`);
  const authority = m[2] ?? "";
  const at = authority.lastIndexOf("@");
  return {
    scheme: (m[1] ?? "").toLowerCase(),
    userinfo: at < 0 ? null : authority.slice(0, at),
    host: at < 0 ? authority : authority.slice(at + 1),
    path: m[3] ?? "",
    query: m[4] ?? null,
    fragment: m[5] ?? null,
  };
}

function hostname(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end < 0 ? host.slice(1) : host.slice(1, end);
  }
  const colon = host.lastIndexOf(":");
  return colon >= 0 && /^\d*$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

function port(host: string): string {
  const m = /:(\d*)$/.exec(host.startsWith("[") ? host.slice(host.indexOf("]") + 1) : host);
  return m?.[1] ?? "";
}

/** Go's url.PathEscape: everything but unreserved characters and `$&+:=@` is escaped. */
function pathEscape(s: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~$&+:=@]/.test(c)
      ? c
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Go's path.Clean: the shortest equivalent slash-separated path. */
function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
    } else out.push(seg);
  }
  const joined = out.join("/");
  return rooted ? "/" + joined : joined || ".";
}

/** Go's path.Join. */
function joinPath(parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== "");
  return nonEmpty.length === 0 ? "" : cleanPath(nonEmpty.join("/"));
}

const BASE32_LOWER = "abcdefghijklmnopqrstuvwxyz234567";

function base32NoPad(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_LOWER[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_LOWER[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The AMP cache's basic host-label algorithm: `-` → `--`, `.` → `-`, wrapped in `0-…-0`
 * when the result has `--` at positions 2–3, then IDNA-encoded. Throws for an undecodable
 * `xn--` label.
 */
export function domainPrefixBasic(domain: string): string {
  let prefix = domainToUnicode(domain).replaceAll("-", "--").replaceAll(".", "-");
  const bytes = new TextEncoder().encode(prefix);
  if (bytes.length >= 4 && bytes[2] === 0x2d && bytes[3] === 0x2d) prefix = `0-${prefix}-0`;
  return domainToAscii(prefix);
}

/** The fallback host label: lowercase base32 (no padding) of the domain's SHA-256. */
export function domainPrefixFallback(domain: string): string {
  return base32NoPad(createHash("sha256").update(domain).digest());
}

/** The host label an AMP cache uses for `domain`: basic when valid and ≤ 63 bytes. */
export function domainPrefix(domain: string): string {
  try {
    const prefix = domainPrefixBasic(domain);
    if (prefix.length <= 63) return prefix;
  } catch { /* fall back */ }
  return domainPrefixFallback(domain);
}

/**
 * The URL of publisher document `pubUrl` on the AMP cache at `cacheUrl`:
 * `<cache scheme>://<prefix(pub host)>.<cache host>/<cache path>/<contentType>[/s]/<pub
 * host>/<pub path>?<pub query>#<pub fragment>`. Content type `c` is for documents.
 * TypeError for what the cache cannot serve: a scheme other than http/https, userinfo or a
 * non-default port in `pubUrl`, no host, an empty content type, a query or fragment in
 * `cacheUrl`.
 */
export function ampCacheUrl(pubUrl: string, cacheUrl: string, contentType = "c"): string {
  const pub = parseRawUrl(pubUrl);
  const cache = parseRawUrl(cacheUrl);
  if (contentType === "") throw new TypeError(`invalid content type ""`);
  const components = [cache.path, pathEscape(contentType)];
  if (pub.scheme === "https") components.push("s");
  else if (pub.scheme !== "http") {
    throw new TypeError(`invalid scheme ${JSON.stringify(pub.scheme)} in publisher URL`);
  }
  if (pub.userinfo !== null) throw new TypeError("publisher URL may not contain userinfo");
  const pubPort = port(pub.host);
  if (pubPort !== "" && pubPort !== (pub.scheme === "http" ? "80" : "443")) {
    throw new TypeError(
      `publisher URL port ${pubPort} is not the default for scheme ${pub.scheme}`,
    );
  }
  const pubHost = hostname(pub.host);
  if (pubHost === "") throw new TypeError("invalid empty host in publisher URL");
  components.push(pathEscape(pubHost), pub.path);
  let path = joinPath(components);
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) throw new TypeError(`invalid escape in path ${path}`);
  if (cache.query) throw new TypeError("cache URL may not contain a query");
  if (cache.fragment) throw new TypeError("cache URL may not contain a fragment");
  let host = domainPrefix(pubHost) + "." + hostname(cache.host);
  const cachePort = port(cache.host);
  if (cachePort !== "") host += ":" + cachePort;
  if (!path.startsWith("/")) path = "/" + path;
  return `${cache.scheme}://${cache.userinfo !== null ? cache.userinfo + "@" : ""}${host}${path}` +
    (pub.query ? "?" + pub.query : "") + (pub.fragment ? "#" + pub.fragment : "");
}
