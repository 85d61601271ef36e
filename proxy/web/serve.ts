/**
 * How `broker-proxy broker --serve-web-proxy` hosts the web proxy page (docs/web-proxy.md):
 * `/web-proxy/` (proxy/web/index.html), `/web-proxy/web-proxy.js` (the committed bundle) and
 * `/web-proxy/config.json` (the page's {@link WebProxySettings}: this broker, its relay pattern
 * and the bridge list's relays). Everything else is left to the broker's own handler.
 *
 * @module
 */
import type { WebProxySettings } from "./config.ts";

export const WEB_PROXY_PATH = "/web-proxy/";

/** What the broker passes on to the page. */
export interface WebProxyServeOptions {
  /** The bridge list's relays, read on every request (SIGHUP may change the list). */
  bridgeRelays(): string[];
  relayPattern: string;
  stunURLs: string[];
  keepLocalAddresses: boolean;
  /** True when this broker answers `/probe`. */
  probe: boolean;
}

const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self' https: ws: wss:; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-cache",
};

/** Reads the page's files once; the handler answers its paths and returns null for others. */
export async function webProxyHandler(
  options: WebProxyServeOptions,
): Promise<(req: Request) => Response | null> {
  const dir = new URL("./", import.meta.url);
  const html = await Deno.readTextFile(new URL("index.html", dir));
  const script = await Deno.readTextFile(new URL("dist/web-proxy.js", dir));
  const file = (body: string, type: string) =>
    new Response(body, { headers: { ...SECURITY_HEADERS, "Content-Type": type } });
  return (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/web-proxy") {
      return new Response(null, { status: 301, headers: { Location: WEB_PROXY_PATH } });
    }
    if (!path.startsWith(WEB_PROXY_PATH)) return null;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    switch (path.slice(WEB_PROXY_PATH.length)) {
      case "":
      case "index.html":
        return file(html, "text/html; charset=utf-8");
      case "web-proxy.js":
        return file(script, "text/javascript; charset=utf-8");
      case "config.json": {
        const settings: WebProxySettings = {
          brokerURL: "../",
          relayPattern: options.relayPattern || undefined,
          bridgeRelays: options.bridgeRelays(),
          stunURLs: options.stunURLs.length ? options.stunURLs : undefined,
          natProbeURL: options.probe ? "../probe" : undefined,
          keepLocalAddresses: options.keepLocalAddresses,
        };
        return file(JSON.stringify(settings), "application/json");
      }
    }
    return new Response("404 page not found\n", { status: 404 });
  };
}
