/**
 * Settings for acme-client's HTTP requests, which all go through one shared
 * axios instance:
 * - a request interceptor gives every request a {@link TlsAgent}, so that HTTPS
 *   works under the binaries' permission flags: one trusting only the CA of its
 *   origin if that was registered (`--acme-ca-cert`: pebble's test CA), else one
 *   trusting Deno's root store (the system's or Mozilla's roots, DENO_CERT,
 *   NODE_EXTRA_CA_CERTS: a public CA such as Let's Encrypt);
 * - every request times out after 30 s (axios has no default timeout);
 * - a network error (no HTTP response) goes straight back to the caller: in
 *   acme-client 5.4 it is retried for 75 s and then lost ("Cannot read
 *   properties of undefined (reading 'config')"); AcmeCertManager retries
 *   whole issuances with its own backoff instead;
 * - acme-client's retry of 429/5xx responses is cut to 2 retries (it still
 *   honours Retry-After).
 *
 * @module
 */
import acme from "acme-client";
import { createRequire } from "node:module";
import { TlsAgent } from "../net/tls_agent.ts";

const REQUEST_TIMEOUT_MS = 30_000;
const agents = new Map<string, TlsAgent>();
let defaultAgent: TlsAgent | undefined;
let installed = false;

type Adapter = (config: unknown) => Promise<unknown>;

function wrapAdapter(): Adapter {
  // acme-client's own copy of axios, for its Node http adapter.
  const axios = createRequire(import.meta.resolve("acme-client"))("axios");
  const http: Adapter = axios.getAdapter("http");
  return async (config) => {
    try {
      return await http(config);
    } catch (e) {
      if (e instanceof Error && !(e as { response?: unknown }).response) {
        const code = (e as { code?: unknown }).code;
        throw Object.assign(new Error(e.message, { cause: e }), { code });
      }
      throw e;
    }
  };
}

/** Installs the interceptor and retry settings once per process. */
export function installAcmeHttp(): void {
  if (installed) return;
  installed = true;
  const settings = (acme.axios.defaults as { acmeSettings?: Record<string, number> }).acmeSettings;
  if (settings) {
    settings.retryMaxAttempts = 2;
  }
  const adapter = wrapAdapter();
  acme.axios.interceptors.request.use((config) => {
    config.adapter = adapter as typeof config.adapter;
    const agent = config.url ? agents.get(new URL(config.url).origin) : undefined;
    config.httpsAgent = agent ?? (defaultAgent ??= new TlsAgent());
    config.timeout ||= REQUEST_TIMEOUT_MS;
    return config;
  });
}

/** Makes requests to `directoryUrl`'s origin trust only the CA certificates in `caPem`. */
export function trustCaFor(directoryUrl: string, caPem: string): void {
  installAcmeHttp();
  agents.set(new URL(directoryUrl).origin, new TlsAgent({ ca: caPem }));
}
