/**
 * The broker's HTTP endpoints (README "Broker"): `/client` (1.0 and legacy), `/proxy`,
 * `/answer`, `/amp/client/<path>`, `/probe`, `/debug`, `/metrics`, `/prometheus`,
 * `/robots.txt`. Bodies are limited to 100000 bytes; every rendezvous reply carries
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
import type { HttpRequest } from "./http1.ts";
import { isIPAddress, isLocalAddress } from "../../lib/snowflake/webrtc.ts";

/** Largest request body read, as the Go broker's (enforced by http1.ts). */
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

/**
 * The address a request comes from, for the unique-proxy counts, as the Go broker finds it
 * behind a front: the leftmost public address in `Forwarded` (`for=`), then in
 * `X-Forwarded-For`, else the TCP peer.
 */
export function clientIp(req: HttpRequest, remoteIp: string): string {
  const candidates = [
    ...(req.header("Forwarded") ?? "").split(/[,;]/).map((p) =>
      /^\s*for="?\[?([^\]";]+)/i.exec(p)?.[1]
    ),
    ...(req.header("X-Forwarded-For") ?? "").split(",").map((a) => a.trim()),
  ];
  for (const c of candidates) {
    const ip = c?.replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1");
    if (ip && isIPAddress(ip) && !isLocalAddress(ip)) return ip;
  }
  return remoteIp;
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
): (req: HttpRequest, remoteIp: string) => Promise<Response> {
  const { broker, probe } = options;

  async function client(req: HttpRequest): Promise<Response> {
    let body = req.body;
    const legacy = isLegacyClientBody(body);
    if (legacy) body = legacyClientPollRequest(body, req.header(LEGACY_NAT_HEADER));
    const reply = await broker.clientPoll(body, "http", req.signal);
    if (!legacy) return text(reply);
    const resp = decodeClientPollResponse(reply);
    if (resp.answer) return text(resp.answer);
    if (resp.error === ERR_NO_PROXIES) return text("", 503);
    if (resp.error === ERR_TIMED_OUT) return text("", 504);
    return text("", 400);
  }

  async function amp(path: string, req: HttpRequest): Promise<Response> {
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
    const path = req.target.split("?")[0]!;
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
        const r = await broker.proxyPoll(req.body, clientIp(req, remoteIp), req.signal);
        return text(r.body, r.status);
      }
      case "/answer": {
        const r = broker.answer(req.body);
        return text(r.body, r.status);
      }
      case "/probe": {
        if (!probe) return text("404 page not found\n", 404);
        const r = await probe(req.body);
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
