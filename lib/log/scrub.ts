/**
 * The one IP-address scrubber every log line goes through, unless the user
 * asked for `--unsafe-logging`.
 *
 * It errs towards scrubbing: an address glued to letters (`v1.2.3.4`,
 * `host_1.2.3.4`) is still an address. IPv6 candidates are runs of hex digits,
 * colons and dots that parse as an IPv6 address, so timestamps (12:34:56), MAC
 * addresses and certificate fingerprints (33:B6:…, more than 8 groups) stay.
 *
 * @module
 */

const IPV4 = /(?<!\d)(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?!\d)/g;
/** A bracketed candidate with an optional zone and port, or a bare run. */
const IPV6_CANDIDATE =
  /\[([0-9A-Fa-f:.]+)(?:%[\w.-]+)?\](?::\d{1,5})?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/g;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const DOTTED_QUAD = /^(?:\d{1,3}\.){3}\d{1,3}$/;

/** Whether `s` is an IPv6 address in any textual form (RFC 4291 §2.2), embedded IPv4 included. */
export function isIPv6Text(s: string): boolean {
  let text = s;
  const last = text.lastIndexOf(":");
  if (last < 0) return false;
  const tail = text.slice(last + 1);
  if (tail.includes(".")) {
    if (!DOTTED_QUAD.test(tail)) return false;
    text = text.slice(0, last + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  if (!groups.every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}

function scrubIPv6(match: string, bracketed: string | undefined): string {
  if (bracketed !== undefined) return isIPv6Text(bracketed) ? "[scrubbed]" : match;
  // A bare run may be glued to punctuation of the sentence ("ip:2001:db8::1: closed").
  const lead = /^:[^:]/.test(match) ? 1 : 0;
  const body = match.slice(lead);
  const core = body.replace(/[:.]+$/, "");
  for (const candidate of [body, core]) {
    if (isIPv6Text(candidate)) {
      return match.slice(0, lead) + "[scrubbed]" + body.slice(candidate.length);
    }
  }
  return match;
}

/** Replaces every IPv4 and IPv6 address (with optional brackets, zone and port) by `[scrubbed]`. */
export function scrub(message: string): string {
  return message.replace(IPV6_CANDIDATE, scrubIPv6).replace(IPV4, "[scrubbed]");
}
