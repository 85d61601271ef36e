/**
 * The local control endpoint of a running pytunnel on a unix socket created
 * 0600 (only its owner, root, can connect): `GET /status` → the JSON report,
 * `POST /roam` → the client moves to a new UDP source port. No TCP form: a
 * loopback port is open to every local user. The client half is what
 * `pytunnel status` and `pytunnel roam` use.
 *
 * @module
 */

import type { StatusEndpoint } from "./config.ts";

/** JSON.stringify that writes bigint counters as numbers. */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? Number(v) : v), space);
}

/** What the endpoint serves. */
export interface ControlHandlers {
  report(): unknown;
  /** Rebinds the UDP socket; the new local address, or null for a server. */
  roam(): string | null;
}

/** Serves the control endpoint; close with the returned server. */
export function serveStatus(endpoint: StatusEndpoint, h: ControlHandlers): Deno.HttpServer {
  const handler = (req: Request): Response => {
    const route = `${req.method} ${new URL(req.url).pathname}`;
    if (route === "GET /status") {
      return new Response(toJson(h.report()), { headers: { "content-type": "application/json" } });
    }
    if (route === "POST /roam") {
      const local = h.roam();
      return local === null
        ? new Response("nothing to move: this is not a running client\n", { status: 409 })
        : new Response(toJson({ local }), { headers: { "content-type": "application/json" } });
    }
    return new Response("not found\n", { status: 404 });
  };
  try {
    Deno.removeSync(endpoint.path);
  } catch { /* not there */ }
  const server = Deno.serve({ path: endpoint.path, onListen() {} }, handler);
  Deno.chmodSync(endpoint.path, 0o600);
  return server;
}

async function call(endpoint: StatusEndpoint, method: string, path: string, signal?: AbortSignal) {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: endpoint.path } });
  try {
    const init = { method, client, signal } as RequestInit;
    const res = await fetch(`http://localhost${path}`, init);
    if (!res.ok) throw new Error(`${(await res.text()).trim()} (HTTP ${res.status})`);
    return await res.json();
  } finally {
    client.close();
  }
}

/** Fetches the status report of a running instance. */
export function fetchStatus(endpoint: StatusEndpoint, signal?: AbortSignal): Promise<unknown> {
  return call(endpoint, "GET", "/status", signal);
}

/** Asks a running client to move to a new UDP source port; its new local address. */
export async function requestRoam(endpoint: StatusEndpoint, signal?: AbortSignal): Promise<string> {
  return ((await call(endpoint, "POST", "/roam", signal)) as { local: string }).local;
}
