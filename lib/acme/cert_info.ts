import { X509Certificate } from "node:crypto";

/** What the manager needs to know about a certificate chain's leaf. */
export interface CertInfo {
  notBefore: number;
  notAfter: number;
  /** DNS names from the subjectAltName extension, lower case. */
  dnsNames: string[];
  serialNumber: string;
}

/** Parses the first certificate of a PEM chain; throws SyntaxError when there is none. */
export function readCertInfo(certPem: string): CertInfo {
  const leaf = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  if (!leaf) throw new SyntaxError("no PEM certificate in the given text");
  const x = new X509Certificate(leaf);
  const dnsNames = (x.subjectAltName ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4).toLowerCase());
  return {
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    dnsNames,
    serialNumber: x.serialNumber,
  };
}

/** True when every hostname appears among the certificate's DNS names (no wildcards asked for). */
export function coversHostnames(info: CertInfo, hostnames: string[]): boolean {
  return hostnames.every((h) => info.dnsNames.includes(h.toLowerCase()));
}

const THIRTY_DAYS_MS = 30 * 24 * 3600_000;

/**
 * When to renew: `renewBeforeMs` ahead of expiry (default 30 days, or a third
 * of the lifetime for shorter certificates), but never before a third of the
 * lifetime has passed, so a renewBeforeMs longer than the lifetime cannot
 * make the manager renew in a tight loop.
 */
export function renewAt(info: CertInfo, renewBeforeMs?: number): number {
  const lifetime = Math.max(0, info.notAfter - info.notBefore);
  const before = renewBeforeMs ?? Math.min(THIRTY_DAYS_MS, lifetime / 3);
  return Math.max(info.notAfter - before, info.notBefore + lifetime / 3);
}
