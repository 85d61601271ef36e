/** The one rule both attack tools follow: only loopback or private targets. @module */

import { contains, isLoopbackOrPrivate, parseCidr, parseHostPort } from "../ipaddr.ts";

/** Parses `--target`; throws RangeError unless it is loopback, RFC 1918 or ULA. */
export function checkTarget(text: string, flag = "--target"): { hostname: string; port: number } {
  let hp: { hostname: string; port: number };
  try {
    hp = parseHostPort(text);
  } catch (e) {
    throw new SyntaxError(`${flag}: ${(e as Error).message}`);
  }
  if (!isLoopbackOrPrivate(hp.hostname)) {
    throw new RangeError(
      `${flag}: refusing ${hp.hostname}: attack tools only target loopback or private ` +
        `(10/8, 172.16/12, 192.168/16, fc00::/7) addresses`,
    );
  }
  return hp;
}

/** Parses `--spoof-cidr`; the spoofed sources must be private too. */
export function checkSpoofCidr(text: string): { address: number; prefix: number } {
  const c = parseCidr(text);
  if (!c) throw new SyntaxError(`--spoof-cidr: "${text}" is not an IPv4 CIDR`);
  if (c.prefix < 8 || c.prefix > 30) {
    throw new RangeError(`--spoof-cidr: prefix /${c.prefix} must be from /8 to /30`);
  }
  const blocks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((b) => parseCidr(b)!);
  if (!blocks.some((b) => c.prefix >= b.prefix && contains(b, c.address))) {
    throw new RangeError(`--spoof-cidr: refusing ${text}: spoofed sources must be private`);
  }
  return c;
}
