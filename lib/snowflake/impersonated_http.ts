/**
 * {@link frontedRequest}'s contract with a browser's TLS ClientHello, through impit (a Rust
 * node-API addon: rustls patched to send Chrome's or Firefox's ClientHello, and the
 * browser's HTTP/2 settings and headers), without domain fronting: impit takes the SNI and
 * h2's `:authority` both from the URL (a `host` header only adds a field that contradicts
 * `:authority`, RFC 9113 §8.3.1), and both profiles offer h2, so a request with a front is
 * refused (README, "TLS fingerprint").
 *
 * Extra CAs cannot be given as PEM: impit reads the system store, or only `SSL_CERT_FILE`
 * when that is set (tests).
 *
 * @module
 */
import type { Impit } from "impit";
import type { BrowserProfile } from "./browser_tls.ts";
import type { FrontedRequest, FrontedResponse } from "./fronted_http.ts";
import { readLimited } from "./limited_body.ts";

/** One client per profile: it holds the connection pool. */
const clients = new Map<BrowserProfile, Impit>();

/** The addon is loaded on first use, so a client without a profile never needs it. */
async function client(profile: BrowserProfile): Promise<Impit> {
  let c = clients.get(profile);
  if (!c) {
    const { Impit } = await import("impit");
    c = new Impit({ browser: profile, followRedirects: false });
    clients.set(profile, c);
  }
  return c;
}

/** A {@link frontedRequest} that sends `profile`'s ClientHello. */
export function impersonatedRequest(
  profile: BrowserProfile,
): (req: FrontedRequest) => Promise<FrontedResponse> {
  return async (req) => {
    if (req.ca) throw new TypeError("impit takes extra CAs from SSL_CERT_FILE, not as PEM");
    if (req.front) {
      throw new TypeError("impit cannot domain-front: h2's :authority would name the front");
    }
    const headers: Record<string, string> = {};
    if (req.body) headers["Content-Type"] = "application/x-www-form-urlencoded";
    const timeoutMs = req.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const res = await (await client(profile)).fetch(req.url, {
      method: req.method,
      headers,
      body: req.body,
      timeout: timeoutMs,
      redirect: "manual",
      signal,
    });
    const body = await readLimited(res.body, req.limit ?? 100_000);
    return { status: res.status, headers: Object.fromEntries(res.headers), body };
  };
}
