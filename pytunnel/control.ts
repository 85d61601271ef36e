/**
 * The local status endpoint of a running pytunnel (`GET /status` → JSON), on a
 * loopback TCP port or a unix socket (created 0600), and the client that
 * `pytunnel status` uses.
 *
 * @module
 */

import type { StatusEndpoint } from "./config.ts";

/** JSON.stringify that writes bigint counters as numbers. */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? Number(v) : v), space);
}

/** Serves `GET /status` with the report `get()` returns; close with the returned server. */
export function serveStatus(endpoint: StatusEndpoint, get: () => unknown): Deno.HttpServer {
  const handler = (req: Request): Response => {
    const url = new URL(req.url);
    if (req.method !== "GET" || url.pathname !== "/status") {
      return new Response("not found\n", { status: 404 });
    }
    return new Response(toJson(get()), { headers: { "content-type": "application/json" } });
  };
  if ("path" in endpoint) {
    try {
      Deno.removeSync(endpoint.path);
    } catch { /* not there */ }
    const server = Deno.serve({ path: endpoint.path, onListen() {} }, handler);
    Deno.chmodSync(endpoint.path, 0o600);
    return server;
  }
  return Deno.serve({ hostname: endpoint.hostname, port: endpoint.port, onListen() {} }, handler);
}

/** Fetches the status report of a running instance. */
export async function fetchStatus(
  endpoint: StatusEndpoint,
  signal?: AbortSignal,
): Promise<unknown> {
  if ("path" in endpoint) {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: endpoint.path } });
    try {
      const init = { client, signal } as RequestInit;
      const res = await fetch("http://localhost/status", init);
      if (!res.ok) throw new Error(`status endpoint answered ${res.status}`);
      return await res.json();
    } finally {
      client.close();
    }
  }
  const host = endpoint.hostname.includes(":") ? `[${endpoint.hostname}]` : endpoint.hostname;
  const res = await fetch(`http://${host}:${endpoint.port}/status`, { signal });
  if (!res.ok) throw new Error(`status endpoint answered ${res.status}`);
  return await res.json();
}
