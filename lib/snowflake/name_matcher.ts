/**
 * Relay host patterns (docs/BROKER.md, "Relay patterns"): `^host$` matches exactly one
 * host, `suffix$` every host that ends with the suffix. Proxies send the pattern they accept;
 * the broker serves a proxy only if that pattern covers its own allowed pattern.
 *
 * @module
 */

/** One parsed pattern. */
export class NameMatcher {
  readonly exact: boolean;
  readonly suffix: string;

  constructor(rule: string) {
    const trimmed = rule.endsWith("$") ? rule.slice(0, -1) : rule;
    this.exact = trimmed.startsWith("^");
    this.suffix = this.exact ? trimmed.slice(1) : trimmed;
  }

  /** True when `host` (hostname, optionally with port) matches. */
  matches(host: string): boolean {
    return this.exact ? host === this.suffix : host.endsWith(this.suffix);
  }

  /** True when every host `other` matches, this matches too. */
  covers(other: NameMatcher): boolean {
    if (this.exact) return other.exact && this.suffix === other.suffix;
    return other.suffix.endsWith(this.suffix);
  }
}

/** A rule is well-formed when it is anchored at the end (`$`). */
export function isValidRule(rule: string): boolean {
  return rule.endsWith("$");
}
