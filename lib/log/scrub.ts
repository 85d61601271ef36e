/**
 * The one IP-address scrubber every log line goes through, unless the user
 * asked for `--unsafe-logging`.
 *
 * @module
 */

const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
// Runs of hex groups separated by colons, with at least two colons: IPv6, with
// or without brackets and port. Timestamps (12:34:56) have no hex letters but
// also fewer than 3 groups of 1–2 digits is common; keep them by requiring
// either a "::" or at least 3 colons.
const IPV6 = /\[?(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}\]?(?::\d{1,5})?/g;

function looksLikeIPv6(s: string): boolean {
  const core = s.replace(/^\[|\](?::\d+)?$/g, "");
  return core.includes("::") || (core.match(/:/g)?.length ?? 0) >= 3;
}

/** Replaces every IPv4 and IPv6 address (with optional port) by `[scrubbed]`. */
export function scrub(message: string): string {
  return message
    .replace(IPV6, (m) => (looksLikeIPv6(m) ? "[scrubbed]" : m))
    .replace(IPV4, "[scrubbed]");
}
