/**
 * The `client_ip` a proxy reports (PROTOCOL.md §5): parsed as the Go server does, and the
 * latest one per ClientID kept in a table of bounded size, so a stream that connects
 * later can report USERADDR.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "../lib/pt/server_env.ts";

// Implementation constants.
/** Entries kept; the oldest is forgotten first (the Go server's clientIDAddrMapCapacity). */
export const CLIENT_IP_CAPACITY = 10240;

/**
 * The `client_ip` query parameter of a proxy's request as an address to report, or null.
 * Like the Go server: anything that is not an IP is ignored, and so are the unspecified
 * addresses some proxies send (0.0.0.0, ::). IPv4-mapped IPv6 becomes plain IPv4, and
 * IPv6 takes its canonical form.
 */
export function clientIpFromUrl(url: string | URL): string | null {
  let raw: string | null;
  try {
    raw = new URL(url).searchParams.get("client_ip");
  } catch {
    return null;
  }
  if (!raw) return null;
  let ip: string;
  if (isIPv4(raw)) ip = raw;
  else if (isIPv6(raw)) ip = unmapIPv4(new URL(`http://[${raw}]/`).hostname.slice(1, -1));
  else return null;
  return ip === "0.0.0.0" || ip === "::" ? null : ip;
}

/** `::ffff:c000:201` (the URL parser's canonical form of `::ffff:192.0.2.1`) → `192.0.2.1`. */
function unmapIPv4(canonical: string): string {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!m) return canonical;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** ClientID (hex) → latest client IP, at most `capacity` entries. */
export class ClientIPs {
  #map = new Map<string, string>();

  constructor(readonly capacity = CLIENT_IP_CAPACITY) {}

  set(clientId: string, ip: string): void {
    this.#map.delete(clientId); // re-insert so the Map stays ordered by last update
    this.#map.set(clientId, ip);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value!);
  }

  get(clientId: string): string | undefined {
    return this.#map.get(clientId);
  }

  get size(): number {
    return this.#map.size;
  }

  /** Forgets every address. */
  close(): void {
    this.#map.clear();
  }
}
