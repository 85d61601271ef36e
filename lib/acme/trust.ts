/**
 * Per-origin trust for acme-client's HTTP requests. acme-client sends every
 * request through one shared axios instance; a request interceptor gives the
 * requests to a registered ACME origin an https.Agent that trusts that
 * origin's CA (e.g. pebble's test CA), leaving other origins alone.
 *
 * @module
 */
import acme from "acme-client";
import https from "node:https";

const agents = new Map<string, https.Agent>();
let installed = false;

/** Makes requests to `directoryUrl`'s origin trust only the CA certificates in `caPem`. */
export function trustCaFor(directoryUrl: string, caPem: string): void {
  if (!installed) {
    installed = true;
    acme.axios.interceptors.request.use((config) => {
      const agent = config.url ? agents.get(new URL(config.url).origin) : undefined;
      if (agent) config.httpsAgent = agent;
      return config;
    });
  }
  agents.set(new URL(directoryUrl).origin, new https.Agent({ ca: caPem }));
}
