/**
 * One HTTP/1.1 request with optional domain fronting (docs/PROTOCOL.md §7): the TCP connection
 * and the TLS SNI go to the front, the `Host` header names the real server. Deno's `fetch`
 * silently replaces a custom Host with the URL's host, so this goes through `node:http` over a
 * `node:tls` connection (docs/client.md): with NODE_EXTRA_CA_CERTS set, `node:https` itself asks
 * for Deno's `sys` permission "ca" (which `--allow-sys=` cannot name) to read Node's CA list,
 * where `node:tls` verifies with Deno's root store (lib/net/tls_agent.ts). Responses are read up to a limit, like Go's `limitedRead`.
 *
 * @module
 */
import http from "node:http";
import tls from "node:tls";

/** Options for {@link frontedRequest}. */
export interface FrontedRequest {
  method: "GET" | "POST";
  /** The real URL: its host goes into the Host header. */
  url: string;
  /** Front domain: TCP and SNI go here instead of the URL's host. */
  front?: string;
  body?: Uint8Array;
  /** Extra PEM CA certificates to trust (tests' self-signed fronts). */
  ca?: string[];
  /** Reject a body longer than this. Default 100000 (the broker's limit). */
  limit?: number;
  /** Give up after this long. Default 30 s (Go: 15 s to the response headers). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What came back. */
export interface FrontedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** A way of sending one {@link FrontedRequest}: {@link frontedRequest} or a browser's TLS. */
export type HttpTransport = (req: FrontedRequest) => Promise<FrontedResponse>;

/** Sends one request; rejects on network errors, timeouts and oversize bodies. */
export function frontedRequest(req: FrontedRequest): Promise<FrontedResponse> {
  const url = new URL(req.url);
  const secure = url.protocol === "https:";
  if (!secure && url.protocol !== "http:") {
    return Promise.reject(new TypeError(`${url.protocol} is not http or https`));
  }
  const limit = req.limit ?? 100_000;
  const hostname = (req.front ?? url.hostname).replace(/^\[|\]$/g, "");
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const headers: Record<string, string> = { Host: url.host, "User-Agent": "" };
  if (req.body) {
    headers["Content-Length"] = String(req.body.length);
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  }
  const options = {
    method: req.method,
    hostname,
    port,
    path: url.pathname + url.search,
    headers,
    // A connection of its own per request: no agent (then node:http uses createConnection),
    // or, without TLS, a throwaway one.
    ...(secure
      ? {
        createConnection: () =>
          tls.connect({
            host: hostname,
            port,
            servername: isIpLiteral(hostname) ? undefined : hostname,
            ca: req.ca,
          }),
      }
      : { agent: false as const }),
  };
  return new Promise<FrontedResponse>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      r.destroy();
      reject(e);
    };
    const onAbort = () => fail(req.signal?.reason ?? new Error("aborted"));
    const timer = setTimeout(
      () => fail(new Error(`HTTP request timed out after ${req.timeoutMs ?? 30_000} ms`)),
      req.timeoutMs ?? 30_000,
    );
    const cleanup = () => {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
    };
    const r = http.request(options, (res) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      res.on("data", (c: Uint8Array) => {
        size += c.length;
        if (size > limit) fail(new RangeError(`HTTP response exceeds ${limit} bytes`));
        else chunks.push(c);
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        cleanup();
        const body = new Uint8Array(size);
        let off = 0;
        for (const c of chunks) {
          body.set(c, off);
          off += c.length;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on("error", fail);
    });
    r.on("error", fail);
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    r.end(req.body);
  });
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** A random element (the front of one request). */
export function pickFront(fronts: readonly string[], random = Math.random): string | undefined {
  return fronts.length === 0 ? undefined : fronts[Math.floor(random() * fronts.length)];
}
