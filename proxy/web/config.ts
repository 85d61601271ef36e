/**
 * What a broker tells the web proxy page it serves (`GET /web-proxy/config.json`, docs/web-proxy.md),
 * and how the page turns that into the core's {@link ProxyConfig} under the same limits as the
 * `broker-proxy proxy` binary's flags. No Deno or Node API here: the page bundles this file.
 *
 * @module
 */
import { PROXY_DEFAULTS, type ProxyConfig } from "../relay/core.ts";
import { checkRelayPattern, DEFAULT_RELAY_PATTERN } from "../relay/safeguards.ts";

/** The JSON the broker serves; every field optional, defaults as {@link pageProxyConfig} says. */
export interface WebProxySettings {
  /** The broker's rendezvous URL, relative to the page. Default `../` (the serving broker). */
  brokerURL?: string;
  /** The broker's `--allowed-relay-pattern`; the page accepts relays that match it. */
  relayPattern?: string;
  /** The bridge list's `webSocketAddress`es: the only private or `ws://` relays allowed. */
  bridgeRelays?: string[];
  stunURLs?: string[];
  /** Default `../probe` when the broker answers probes, else Go's default probe. */
  natProbeURL?: string;
  keepLocalAddresses?: boolean;
  /** Most clients at once. Default 1, as snowflake-webext. */
  capacity?: number;
  pollIntervalMs?: number;
}

/** A web page's default capacity: one client, as snowflake-webext (maxNumClients). */
export const PAGE_CAPACITY = 1;
/** The shortest poll interval the binary accepts (`--poll-interval` ≥ 2s); the page too. */
export const MIN_POLL_INTERVAL_MS = 2000;
/** The broker's proxy type for a page (Go's broker knows standalone, webext, badge, iptproxy). */
export const PAGE_PROXY_TYPE = "badge";

function strings(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new TypeError(`web proxy config: ${field} must be a list of strings`);
  }
  return value;
}

/**
 * The core's config from the broker's settings, URLs resolved against `pageURL`. Throws
 * TypeError/RangeError/SyntaxError on a field outside the binary's limits.
 */
export function pageProxyConfig(settings: WebProxySettings, pageURL: string): ProxyConfig {
  const s = settings as Record<string, unknown>;
  const capacity = s.capacity ?? PAGE_CAPACITY;
  if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0) {
    throw new RangeError(`web proxy config: capacity ${capacity} is not a whole number ≥ 0`);
  }
  const pollIntervalMs = s.pollIntervalMs ?? PROXY_DEFAULTS.pollIntervalMs;
  if (typeof pollIntervalMs !== "number" || !(pollIntervalMs >= MIN_POLL_INTERVAL_MS)) {
    throw new RangeError(`web proxy config: pollIntervalMs ${pollIntervalMs} is below 2000`);
  }
  const pattern = s.relayPattern ?? DEFAULT_RELAY_PATTERN;
  if (typeof pattern !== "string") throw new TypeError("web proxy config: relayPattern");
  checkRelayPattern(pattern);
  const resolve = (field: string, fallback: string) => {
    const v = s[field] ?? fallback;
    if (typeof v !== "string" || !URL.canParse(v, pageURL)) {
      throw new SyntaxError(`web proxy config: ${field} ${JSON.stringify(v)} is not a URL`);
    }
    return new URL(v, pageURL).href;
  };
  const bridgeRelays = strings(s.bridgeRelays, "bridgeRelays") ?? [];
  return {
    ...PROXY_DEFAULTS,
    brokerURL: resolve("brokerURL", "../"),
    defaultRelayURL: bridgeRelays[0] ?? PROXY_DEFAULTS.defaultRelayURL,
    stunURLs: strings(s.stunURLs, "stunURLs") ?? [...PROXY_DEFAULTS.stunURLs],
    natProbeURL: resolve("natProbeURL", PROXY_DEFAULTS.natProbeURL),
    keepLocalAddresses: s.keepLocalAddresses === true,
    capacity,
    pollIntervalMs,
    // A page has no log file to summarize into; its counters are on screen.
    summaryIntervalMs: 0,
    proxyType: PAGE_PROXY_TYPE,
    policy: {
      allowedHostPattern: pattern,
      allowPrivateAddresses: false,
      allowNonTLS: false,
      listedRelays: bridgeRelays,
    },
  };
}
