/**
 * The broker's HTTP endpoints (README "Broker"): `/client` (1.0 and legacy), `/proxy`,
 * `/answer`, `/amp/client/<path>`, `/probe`, `/debug`, `/metrics`, `/prometheus`,
 * `/robots.txt`. Bodies are read up to 100000 bytes; every rendezvous reply carries
 * `Access-Control-Allow-Origin: *` and answers CORS preflights, as the Go broker's.
 *
 * @module
 */
import { decodeAmpPath, encodeArmor } from "../../lib/snowflake/amp.ts";
import {
  decodeClientPollResponse,
  encodeClientPollResponse,
  ERR_NO_PROXIES,
  ERR_TIMED_OUT,
  isLegacyClientBody,
  LEGACY_NAT_HEADER,
  legacyClientPollRequest,
} from "../../lib/snowflake/messages.ts";
import type { Broker } from "./broker.ts";
import { concatBytes } from "../../lib/net/bytes.ts";

/** Largest request body read, as the Go broker's. */
export const BODY_LIMIT = 100_000;

const TEXT = "text/plain; charset=utf-8";
const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "Origin, X-Session-ID",
};

/** Answers `/probe` (see probe.ts); absent when the broker runs without one. */
export type ProbeHandler = (body: string) => Promise<{ status: number; body: string }>;

export interface BrokerHttpOptions {
  broker: Broker;
  probe?: ProbeHandler;
}

/** Reads a request body as text; null when it is larger than {@link BODY_LIMIT}. */
export async function readLimited(req: Request, limit = BODY_LIMIT): Promise<string | null> {
  const length = req.headers.get("content-length");
  if (length !== null) {
    // The common case: one read of a declared length.
    return Number(length) > limit ? null : await req.text();
  }
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of req.body) {
    n += chunk.length;
    if (n > limit) return null;
    chunks.push(chunk);
  }
  return new TextDecoder().decode(concatBytes(chunks));
}

function text(body: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(status === 200 || body ? body : null, {
    status,
    headers: { ...CORS, "Content-Type": TEXT, ...extra },
  });
}

/** The broker's request handler. */
export function brokerHandler(
  options: BrokerHttpOptions,
): (req: Request, remoteIp: string) => Promise<Response> {
  const { broker, probe } = options;

  async function client(req: Request): Promise<Response> {
    let body = await readLimited(req);
    if (body === null) return text("", 400);
    const legacy = isLegacyClientBody(body);
    if (legacy) body = legacyClientPollRequest(body, req.headers.get(LEGACY_NAT_HEADER));
    const reply = await broker.clientPoll(body, "http", req.signal);
    if (!legacy) return text(reply);
    const resp = decodeClientPollResponse(reply);
    if (resp.answer) return text(resp.answer);
    if (resp.error === ERR_NO_PROXIES) return text("", 503);
    if (resp.error === ERR_TIMED_OUT) return text("", 504);
    return text("", 400);
  }

  async function amp(path: string, req: Request): Promise<Response> {
    let reply: string;
    try {
      const poll = new TextDecoder().decode(decodeAmpPath(path));
      reply = await broker.clientPoll(poll, "ampcache", req.signal);
    } catch {
      reply = encodeClientPollResponse({ error: "cannot decode URL path" });
    }
    return text(encodeArmor(new TextEncoder().encode(reply)), 200, {
      "Content-Type": "text/html",
      "Cache-Control": "max-age=15",
    });
  }

  return async (req, remoteIp) => {
    const path = new URL(req.url).pathname;
    if (path === "/robots.txt") {
      return new Response("User-agent: *\nDisallow: /\n", { headers: { "Content-Type": TEXT } });
    }
    const rendezvous = ["/client", "/proxy", "/answer", "/debug", "/metrics", "/probe"]
      .includes(path) || path.startsWith("/amp/client/");
    if (!rendezvous && path !== "/prometheus") {
      return new Response("404 page not found\n", {
        status: 404,
        headers: { "Content-Type": TEXT },
      });
    }
    if (req.method === "OPTIONS" && rendezvous) return text("");
    switch (path) {
      case "/client":
        return await client(req);
      case "/proxy": {
        const body = await readLimited(req);
        if (body === null) return text("", 400);
        const r = await broker.proxyPoll(body, remoteIp, req.signal);
        return text(r.body, r.status);
      }
      case "/answer": {
        const body = await readLimited(req);
        if (body === null) return text("", 400);
        const r = broker.answer(body);
        return text(r.body, r.status);
      }
      case "/probe": {
        if (!probe) return text("404 page not found\n", 404);
        const body = await readLimited(req);
        if (body === null) return text("", 400);
        const r = await probe(body);
        return text(r.body, r.status);
      }
      case "/debug":
        return text(broker.debug());
      case "/metrics":
        return text(broker.metrics.logBlock());
      case "/prometheus":
        return new Response(broker.metrics.prometheus(broker.availableByLabels()), {
          headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
        });
    }
    return await amp(path.slice("/amp/client/".length), req);
  };
}
