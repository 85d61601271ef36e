/**
 * `pytunnel ui`: a control page on 127.0.0.1 only, protected by a random
 * token (query `?token=` or header `x-pytunnel-token`; 403 without it).
 * Starts and stops the tunnel, shows the live report and a log tail (SSE).
 *
 * @module
 */

import type { LogRing } from "./logring.ts";
import type { StatusReport } from "./report.ts";
import { toJson } from "./control.ts";
import { page } from "./ui_page.ts";

/** What the page controls: one tunnel instance that can be started and stopped. */
export interface Controller {
  running(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  report(): StatusReport;
  readonly logs: LogRing;
}

/** A fresh 128-bit token, hex. */
export function newToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function sameToken(a: string | null, b: string): boolean {
  if (a === null || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
};

/** Builds the request handler (exported for tests that do not need a socket). */
export function uiHandler(
  ctl: Controller,
  token: string,
  port: () => number,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    // Only our own origin: a page elsewhere rebinding a name to 127.0.0.1 is refused.
    const host = req.headers.get("host") ?? "";
    if (host !== `127.0.0.1:${port()}` && host !== `localhost:${port()}`) {
      return new Response("forbidden host\n", { status: 403 });
    }
    const given = req.headers.get("x-pytunnel-token") ?? url.searchParams.get("token");
    if (!sameToken(given, token)) {
      return new Response("forbidden: missing or wrong token\n", {
        status: 403,
        headers: SECURITY_HEADERS,
      });
    }
    const json = (v: unknown, status = 200) =>
      new Response(toJson(v), {
        status,
        headers: { ...SECURITY_HEADERS, "content-type": "application/json" },
      });
    switch (`${req.method} ${url.pathname}`) {
      case "GET /":
        return new Response(page(ctl.report()), {
          headers: { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" },
        });
      case "GET /api/status":
        return json(ctl.report());
      case "POST /api/start":
      case "POST /api/stop": {
        // State changes need the header, so a plain cross-site form cannot trigger them.
        if (req.headers.get("x-pytunnel-token") === null) {
          return json({ error: "send the token in the x-pytunnel-token header" }, 403);
        }
        try {
          if (url.pathname === "/api/start") await ctl.start();
          else await ctl.stop();
          return json({ running: ctl.running() });
        } catch (e) {
          return json({ error: (e as Error).message, running: ctl.running() }, 500);
        }
      }
      case "GET /api/logs":
        return logStream(ctl.logs, Number(url.searchParams.get("after") ?? 0));
      default:
        return new Response("not found\n", { status: 404, headers: SECURITY_HEADERS });
    }
  };
}

function logStream(logs: LogRing, after: number): Response {
  const enc = new TextEncoder();
  let unsubscribe = () => {};
  let ping: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (seq: number, line: string) => {
        try {
          controller.enqueue(enc.encode(`id: ${seq}\ndata: ${JSON.stringify(line)}\n\n`));
        } catch { /* closed */ }
      };
      for (const l of logs.since(after)) send(l.seq, l.line);
      unsubscribe = logs.subscribe(send);
      ping = setInterval(() => {
        try {
          controller.enqueue(enc.encode(": ping\n\n"));
        } catch { /* closed */ }
      }, 15_000);
    },
    cancel() {
      unsubscribe();
      clearInterval(ping);
    },
  });
  return new Response(body, {
    headers: { ...SECURITY_HEADERS, "content-type": "text/event-stream" },
  });
}

/** Serves the page on 127.0.0.1:`port` (0 picks one); resolves once listening. */
export async function serveUi(
  ctl: Controller,
  options: { port?: number; token?: string; signal?: AbortSignal } = {},
): Promise<{ server: Deno.HttpServer; url: string; token: string; port: number }> {
  const token = options.token ?? newToken();
  let port = 0;
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    signal: options.signal,
    onListen(addr) {
      port = addr.port;
      listening.resolve();
    },
  }, uiHandler(ctl, token, () => port));
  await listening.promise;
  return { server, token, port, url: `http://127.0.0.1:${port}/?token=${token}` };
}
