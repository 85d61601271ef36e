/**
 * Which relay URLs the proxy will carry a client's bytes to. The broker names the relay, so a
 * hostile broker could aim volunteers at anything; these checks keep a proxy from being used
 * against its own network or against hosts its operator did not agree to (docs/proxy.md).
 *
 * @module
 */
import { isValidRule, NameMatcher } from "../../lib/snowflake/name_matcher.ts";
import { isIPAddress, isLocalAddress } from "../../lib/snowflake/webrtc.ts";

/** What the operator allows. */
export interface RelayPolicy {
  /** `suffix$` or `^exact$` over the URL's hostname, with or without its port. */
  allowedHostPattern: string;
  /** Relay to loopback, RFC 1918, link-local, CGN and unique-local addresses. Default false. */
  allowPrivateAddresses: boolean;
  /** Relay over plain `ws://`. Default false. */
  allowNonTLS: boolean;
  /**
   * Relay URLs the broker's bridge list names (the web page gets them from its broker): these
   * may be private or plain `ws://`, since the operator listed them; the host pattern still holds.
   */
  listedRelays?: readonly string[];
}

/** The Tor Project's relays, Go's default. */
export const DEFAULT_RELAY_PATTERN = "snowflake.torproject.net$";

/** Throws when the pattern is not one the broker and the Go proxy accept (must end in `$`). */
export function checkRelayPattern(pattern: string): void {
  if (!isValidRule(pattern)) {
    throw new SyntaxError(`relay hostname pattern ${JSON.stringify(pattern)} must end with "$"`);
  }
}

/** Why `relayURL` is refused under `policy`, or null when the proxy may relay to it. */
export function relayRefusal(relayURL: string, policy: RelayPolicy): string | null {
  let url: URL;
  try {
    url = new URL(relayURL);
  } catch {
    return "relay URL is not a URL";
  }
  if (url.protocol !== "wss:" && url.protocol !== "ws:") {
    return "relay URL is not a WebSocket URL";
  }
  const listed = policy.listedRelays?.some((r) => URL.canParse(r) && new URL(r).href === url.href);
  if (url.protocol === "ws:" && !policy.allowNonTLS && !listed) {
    return "relay URL is not TLS (ws://) and --allow-non-tls-relay is not set";
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const privateHost = hostname === "localhost" || hostname.endsWith(".localhost") ||
    (isIPAddress(hostname) && isLocalAddress(hostname));
  if (privateHost && !policy.allowPrivateAddresses && !listed) {
    return "relay URL is a private address and --allow-proxying-to-private-addresses is not set";
  }
  // The host with its port (newer Go proxies) or without (Go 2.5.1, and brokers whose
  // patterns name no port): a pattern of either form works, as operators write both.
  const matcher = new NameMatcher(policy.allowedHostPattern);
  if (!matcher.matches(url.host) && !matcher.matches(url.hostname)) {
    return `relay host does not match the allowed pattern ${policy.allowedHostPattern}`;
  }
  return null;
}
