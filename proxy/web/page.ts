/**
 * The web proxy page's script (docs/web-proxy.md), bundled into proxy/web/dist/web-proxy.js by
 * `deno task bundle-web-proxy`: the switch, the volunteer's consent, the counters, and the
 * proxy core (proxy/relay/core.ts) run with the browser's WebRTC (proxy/web/env.ts).
 *
 * The switch is remembered in localStorage; the first time it is turned on the page asks for
 * consent (as snowflake-webext does) and starts only after "yes".
 *
 * @module
 */
import { SnowflakeProxy } from "../relay/core.ts";
import { pageProxyConfig, type WebProxySettings } from "./config.ts";
import { globalPlatform, pageProxyEnv } from "./env.ts";

const ENABLED_KEY = "snowflake-web-proxy-enabled";
const CONSENT_KEY = "snowflake-web-proxy-consent";
const RENDER_MS = 500;

/** What the status line says; `data-state` on #status carries the key. */
const STATES = {
  loading: "Loading…",
  off: "Off. Turn the switch on to help censored users reach Tor.",
  consent: "Waiting for your consent…",
  starting: "Starting: checking how reachable your browser is…",
  polling: "On: waiting for a censored user to connect.",
  relaying: "On: relaying for a censored user right now.",
  "broker-down": "Cannot reach the Snowflake broker. Retrying…",
  "no-webrtc": "WebRTC is blocked or unsupported in this browser, so it cannot be a proxy.",
} as const;
type State = keyof typeof STATES;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $("status");
const toggle = $<HTMLInputElement>("toggle");
const consent = $<HTMLDialogElement>("consent");

let proxy: SnowflakeProxy | null = null;
let running: Promise<void> = Promise.resolve();
let brokerDown = false;
/** Counters of proxies already stopped this session, so that totals survive off/on. */
const past = { connections: 0, bytes: 0 };

function setState(state: State): void {
  status.dataset.state = state;
  status.textContent = STATES[state];
}

function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function setCounter(id: string, value: number, text = String(value)): void {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text;
}

function render(): void {
  const s = proxy?.stats;
  const bytes = past.bytes + (s ? s.bytesFromClients + s.bytesToClients : 0);
  setCounter("clients", past.connections + (s?.connections ?? 0));
  setCounter("active", s?.active ?? 0);
  setCounter("bytes", bytes, formatBytes(bytes));
  $("nat").textContent = proxy?.natType ?? $("nat").textContent;
  if (!proxy) return;
  if (brokerDown) setState("broker-down");
  else if (s!.active > 0) setState("relaying");
  else if (s!.polls > 0) setState("polling");
  else setState("starting");
}

/** True when this browser can make a peer connection (not disabled by a setting or extension). */
function hasWebRTC(): boolean {
  if (typeof RTCPeerConnection !== "function") return false;
  try {
    new RTCPeerConnection().close();
    return true;
  } catch {
    return false;
  }
}

function start(settings: WebProxySettings): void {
  if (proxy) return;
  const config = pageProxyConfig(settings, location.href);
  brokerDown = false;
  const p = new SnowflakeProxy(
    config,
    pageProxyEnv(globalPlatform(), config.brokerURL, {
      log: (m) => console.log(`snowflake: ${m}`),
      brokerReachable: (ok) => (brokerDown = !ok),
    }),
  );
  proxy = p;
  running = p.run().catch((e) => console.error("snowflake proxy:", e));
  render();
}

async function stop(): Promise<void> {
  const p = proxy;
  if (!p) return;
  p.stop();
  await running;
  past.connections += p.stats.connections;
  past.bytes += p.stats.bytesFromClients + p.stats.bytesToClients;
  proxy = null;
  render();
  setState("off");
}

/** Asks once; resolves true when the volunteer agrees (remembered). */
function askConsent(): Promise<boolean> {
  if (localStorage.getItem(CONSENT_KEY) === "yes") return Promise.resolve(true);
  setState("consent");
  consent.showModal();
  return new Promise((resolve) => {
    consent.addEventListener("close", () => {
      const yes = consent.returnValue === "yes";
      if (yes) localStorage.setItem(CONSENT_KEY, "yes");
      resolve(yes);
    }, { once: true });
  });
}

async function loadSettings(): Promise<WebProxySettings | null> {
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (res.status !== 200) return null;
    return await res.json() as WebProxySettings;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  if (!hasWebRTC()) {
    setState("no-webrtc");
    return;
  }
  const settings = await loadSettings();
  if (!settings) {
    setState("broker-down");
    return;
  }
  toggle.disabled = false;
  toggle.addEventListener("change", async () => {
    if (!toggle.checked) {
      localStorage.setItem(ENABLED_KEY, "off");
      await stop();
      return;
    }
    toggle.disabled = true;
    const yes = await askConsent();
    toggle.disabled = false;
    if (!yes || !toggle.checked) {
      toggle.checked = false;
      setState("off");
      return;
    }
    localStorage.setItem(ENABLED_KEY, "on");
    start(settings);
  });
  addEventListener("pagehide", () => proxy?.stop());
  setInterval(render, RENDER_MS);
  const enabled = localStorage.getItem(ENABLED_KEY) === "on" &&
    localStorage.getItem(CONSENT_KEY) === "yes";
  toggle.checked = enabled;
  if (enabled) start(settings);
  else setState("off");
}

main();
