/**
 * {@link frontedRequest}'s contract, domain fronting included, with Chrome's ClientHello through
 * wreq-js (a Rust node-API addon over BoringSSL, Chrome's own TLS library). Fronting needs the
 * broker in what the server routes by while the SNI names the front; over h2 that is
 * `:authority`, which wreq-js takes from the URL like impit (lib/snowflake/impersonated_http.ts).
 * So this speaks HTTP/1.1 only: TCP and SNI go to the front named in the URL, the `Host` header
 * names the broker. The ClientHello is the one Chromium sends when it offers HTTP/1.1 alone (a
 * WebSocket connection): Chrome's ciphers, groups, key shares, GREASE and extension permutation,
 * ALPN `http/1.1`, and no ALPS (which Chrome sends only for h2). wreq-js's Chrome profiles
 * always offer h2, so the TLS options are given whole, as in wreq-util's Chrome profile
 * (README, "TLS fingerprint", for what still differs from Chromium).
 *
 * Extra CAs cannot be given as PEM: BoringSSL reads the system's default paths, where
 * `SSL_CERT_FILE` (tests) is one, beside wreq's bundled Mozilla roots.
 *
 * @module
 */
import type { Transport } from "wreq-js";
import type { FrontedRequest, FrontedResponse } from "./fronted_http.ts";
import { readLimited } from "./limited_body.ts";

/** wreq-util's Chrome TLS options (its newest profiles) without ALPS, offering HTTP/1.1 alone. */
const CHROME_HTTP1_TLS = {
  alpnProtocols: ["HTTP1" as const],
  greaseEnabled: true,
  permuteExtensions: true,
  enableEchGrease: true,
  enableOcspStapling: true,
  enableSignedCertTimestamps: true,
  preSharedKey: true,
  aesHwOverride: true,
  minTlsVersion: "1.2" as const,
  maxTlsVersion: "1.3" as const,
  certificateCompressionAlgorithms: ["brotli" as const],
  curvesList: "X25519MLKEM768:X25519:P-256:P-384",
  cipherList: [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
  ].join(":"),
  sigalgsList: [
    "ecdsa_secp256r1_sha256",
    "rsa_pss_rsae_sha256",
    "rsa_pkcs1_sha256",
    "ecdsa_secp384r1_sha384",
    "rsa_pss_rsae_sha384",
    "rsa_pkcs1_sha384",
    "rsa_pss_rsae_sha512",
    "rsa_pkcs1_sha512",
  ].join(":"),
};

/** wreq-js's fetch and the transport (connection pool) with {@link CHROME_HTTP1_TLS}. */
interface ChromeClient {
  fetch: typeof import("wreq-js").fetch;
  transport: Transport;
}

/** Made on first use: a client without a front or a Chrome profile never loads the addon. */
let client: Promise<ChromeClient> | undefined;

function chrome(): Promise<ChromeClient> {
  client ??= (async () => {
    const wreq = await import("wreq-js");
    const transport = await wreq.createTransport({ emulation: { tlsOptions: CHROME_HTTP1_TLS } });
    return { fetch: wreq.fetch, transport };
  })();
  return client;
}

/** Sends one request with Chrome's HTTP/1.1 ClientHello, to `req.front` when given. */
export async function frontedChromeRequest(req: FrontedRequest): Promise<FrontedResponse> {
  if (req.ca) throw new TypeError("wreq-js takes extra CAs from SSL_CERT_FILE, not as PEM");
  const url = new URL(req.url);
  const target = new URL(req.url);
  if (req.front) target.hostname = req.front;
  const headers: Record<string, string> = { Host: url.host };
  if (req.body) headers["Content-Type"] = "application/x-www-form-urlencoded";
  const { fetch, transport } = await chrome();
  const res = await fetch(target.href, {
    transport,
    method: req.method,
    headers,
    body: req.body,
    timeout: req.timeoutMs ?? 30_000,
    redirect: "manual",
    signal: req.signal,
  });
  const body = await readLimited(res.body, req.limit ?? 100_000);
  return { status: res.status, headers: Object.fromEntries(res.headers), body };
}
