/**
 * Headless Debian Chromium driven by playwright-core, for the web proxy tests and benchmark.
 * Chromium inherits the caller's network namespace, so the scripts that use this run inside
 * one. Every launch gets a fresh user-data-dir (removed on close).
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM } from "./has_chromium.ts";

/**
 * Quiet, reproducible headless flags; and host ICE candidates as plain addresses rather than
 * mDNS names, which no peer in a namespace could resolve (a volunteer's browser behind a NAT
 * offers its STUN-mapped address anyway).
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/** A running browser with one persistent profile. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  /** The browser process's pid (its children are the renderer and utility processes). */
  pid: number;
  close(): Promise<void>;
}

/** Options for {@link launchBrowser}. */
export interface LaunchOptions {
  /** Remove `RTCPeerConnection` before any script runs (a browser with WebRTC disabled). */
  withoutWebRTC?: boolean;
  /** Profile preferences written before the launch (Default/Preferences). */
  prefs?: Record<string, unknown>;
  /** Lines the page logs to its console go here. */
  onConsole?: (line: string) => void;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  const userDataDir = await Deno.makeTempDir({ prefix: "web-proxy-chromium-" });
  if (options.prefs) {
    await Deno.mkdir(`${userDataDir}/Default`);
    await Deno.writeTextFile(`${userDataDir}/Default/Preferences`, JSON.stringify(options.prefs));
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: { width: 640, height: 560 },
    // The scripts take a last screenshot on SIGTERM and close the browser themselves.
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
  });
  if (options.withoutWebRTC) {
    await context.addInitScript(() => {
      // deno-lint-ignore no-explicit-any
      delete (globalThis as any).RTCPeerConnection;
    });
  }
  const page = context.pages()[0] ?? await context.newPage();
  if (options.onConsole) page.on("console", (m) => options.onConsole!(m.text()));
  const pid = browserPid(userDataDir);
  return {
    context,
    page,
    pid,
    async close() {
      await context.close().catch(() => {});
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** The pid of the Chromium process started with `userDataDir` (not its children). */
function browserPid(userDataDir: string): number {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let cmd: string;
    try {
      cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
    } catch {
      continue;
    }
    if (cmd.includes(`--user-data-dir=${userDataDir}`) && !cmd.includes("--type=")) {
      return Number(e.name);
    }
  }
  return 0;
}

/** What the page shows. */
export interface PageView {
  state: string;
  checked: boolean;
  clients: number;
  active: number;
  bytes: number;
  nat: string;
}

/** Reads the page's status and counters. */
export function readView(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const value = (id: string) => Number(document.getElementById(id)?.dataset.value ?? NaN);
    return {
      state: document.getElementById("status")?.dataset.state ?? "",
      checked: (document.getElementById("toggle") as HTMLInputElement | null)?.checked ?? false,
      clients: value("clients"),
      active: value("active"),
      bytes: value("bytes"),
      nat: document.getElementById("nat")?.textContent ?? "",
    };
  });
}

/** Polls the page until `ok(view)`; rejects with the last view after `ms`. */
export async function waitForView(
  page: Page,
  ok: (v: PageView) => boolean,
  ms = 30_000,
): Promise<PageView> {
  const deadline = Date.now() + ms;
  let view = await readView(page);
  while (!ok(view)) {
    if (Date.now() > deadline) throw new Error(`page never got there: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 200));
    view = await readView(page);
  }
  return view;
}

/** Turns the switch on and agrees in the consent dialog (asked only the first time). */
export async function switchOn(page: Page): Promise<void> {
  await page.click("#toggle");
  if (await page.locator("#consent").evaluate((d) => (d as HTMLDialogElement).open)) {
    await page.click("#consent-yes");
  }
}
