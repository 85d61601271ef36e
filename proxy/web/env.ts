/**
 * The web page's adapter for the proxy core (proxy/relay/core.ts): the browser's own
 * `RTCPeerConnection`, `WebSocket`, `fetch` and timers. The `broker-proxy proxy` binary's
 * adapter (proxy/relay/env.ts) differs only in these; the core is the same module.
 *
 * The platform is passed in rather than read from `globalThis` inside, so a test can run this
 * adapter over in-memory twins (tests/web_proxy/same_core_test.ts).
 *
 * @module
 */
import type { Conn } from "../../lib/net/types.ts";
import { webSocketConn } from "../../lib/net/websocket.ts";
import type { PeerConnection, Timers } from "../../lib/snowflake/webrtc.ts";
import type { ProxyEnv } from "../relay/core.ts";

/** What a browser provides (the globals of a page). */
export interface BrowserPlatform {
  RTCPeerConnection: new (config: RTCConfiguration) => unknown;
  WebSocket: new (url: string) => WebSocket;
  fetch: typeof fetch;
  timers: Timers;
}

/** The page's globals. */
export function globalPlatform(): BrowserPlatform {
  return {
    RTCPeerConnection: globalThis.RTCPeerConnection,
    WebSocket: globalThis.WebSocket,
    fetch: (input, init) => globalThis.fetch(input, init),
    timers: {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (id) => globalThis.clearTimeout(id as number),
    },
  };
}

/** How long the relay WebSocket may take to open, as the binary's dialer. */
const RELAY_OPEN_TIMEOUT_MS = 10_000;

/** Hooks the page's UI listens on. */
export interface PageHooks {
  log(message: string): void;
  /** Each broker exchange's outcome: false on a network error or a non-200 reply. */
  brokerReachable?(ok: boolean): void;
}

/** The core's environment in a page. `brokerURL` selects which fetches report reachability. */
export function pageProxyEnv(
  platform: BrowserPlatform,
  brokerURL: string,
  hooks: PageHooks,
): ProxyEnv {
  const { timers } = platform;
  const observed: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const mine = url.startsWith(brokerURL);
    try {
      const res = await platform.fetch(input, init);
      if (mine) hooks.brokerReachable?.(res.status === 200);
      return res;
    } catch (e) {
      if (mine && !init?.signal?.aborted) hooks.brokerReachable?.(false);
      throw e;
    }
  };
  return {
    webrtc: {
      newPeerConnection(config) {
        const { portRange: _notInBrowsers, ...standard } = config;
        return new platform.RTCPeerConnection(standard) as PeerConnection;
      },
    },
    dialRelay: (url, signal) => dialBrowserWebSocket(platform, url, signal),
    fetch: observed,
    timers,
    log: hooks.log,
  };
}

/** Opens a WebSocket with the page's constructor; a Conn once open. */
function dialBrowserWebSocket(
  platform: BrowserPlatform,
  url: string,
  signal: AbortSignal,
): Promise<Conn> {
  const { timers } = platform;
  return new Promise((resolve, reject) => {
    const ws = new platform.WebSocket(url);
    ws.binaryType = "arraybuffer";
    const done = (error?: Error) => {
      timers.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onClose);
      if (!error) return resolve(webSocketConn(ws));
      try {
        ws.close();
      } catch { /* never opened */ }
      reject(error);
    };
    const onOpen = () => done();
    const onClose = () => done(new Error("relay WebSocket closed before it opened"));
    const onAbort = () => done(new Error("stopped"));
    const timer = timers.setTimeout(
      () => done(new Error("relay WebSocket did not open in time")),
      RELAY_OPEN_TIMEOUT_MS,
    );
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onClose);
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
  });
}
