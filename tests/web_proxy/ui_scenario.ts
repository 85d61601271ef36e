/**
 * The `web-proxy:ui` scenario, run inside a namespace by tests/web_proxy/ui_test.ts: our broker
 * (`--serve-web-proxy`, its bridge list naming an echo relay here), a STUN server (coturn: without
 * a default route Chromium gathers no host candidate, as webext users behind a NAT rely on STUN
 * too), the page in headless Chromium, and a WebRTC client (@roamhq/wrtc). It walks the page through its states — off,
 * consent, polling, relaying, switched off mid-relay, reloaded off and on, broker down and
 * back (the page retries by itself), WebRTC missing — saves a screenshot of each into OUT_DIR and prints one JSON line of
 * findings.
 *
 * `deno run -A ui_scenario.ts ADDR OUT_DIR`
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { DEFAULT_BRIDGE_FINGERPRINT } from "../../lib/snowflake/messages.ts";
import { dialThroughBroker, RelaySink } from "../proxy/fixtures.ts";
import { launchBrowser, type PageView, readView, switchOn, waitForView } from "./chromium.ts";
import { sleep } from "../../lib/net/sleep.ts";

const [A, outDir] = Deno.args as [string, string];
const ROOT = new URL("../../", import.meta.url).pathname;
const findings: Record<string, unknown> = {};

const relay = new RelaySink(A);
const port = freeTcpPort();
const stunPort = freeTcpPort();
const stun = new Deno.Command("turnserver", {
  args: [
    "-n",
    "--stun-only",
    "--no-tls",
    "--no-dtls",
    "--no-cli",
    "-L",
    A,
    "-p",
    String(stunPort),
    "--userdb",
    `${outDir}/turndb`,
    "--log-file",
    "stdout",
    "--simple-log",
  ],
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
const brokerURL = `http://${A}:${port}/`;
await Deno.writeTextFile(
  `${outDir}/bridges.jsonl`,
  JSON.stringify({
    displayName: "ui",
    webSocketAddress: relay.url,
    fingerprint: DEFAULT_BRIDGE_FINGERPRINT,
  }) + "\n",
);

function startBroker(): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: runArgs("broker-proxy", [
      "broker",
      "--addr",
      `${A}:${port}`,
      "--disable-tls",
      "--bridge-list-path",
      `${outDir}/bridges.jsonl`,
      "--allowed-relay-pattern",
      `^${A}$`,
      "--serve-web-proxy",
      "--web-proxy-stun",
      `stun:${A}:${stunPort}`,
      "--log",
      `${outDir}/broker.log`,
    ]),
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function waitForBroker(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${brokerURL}debug`).then((r) => r.text()).catch(() => null)) return;
    await sleep(100);
  }
  throw new Error("the broker never listened");
}

/** Waits until the broker holds `n` proxy polls (its /debug page). */
async function waitForBrokerWaiting(n: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const debug = await fetch(`${brokerURL}debug`).then((r) => r.text()).catch(() => "");
    if (Number(/current snowflakes available: (\d+)/.exec(debug)?.[1]) >= n) return;
    await sleep(100);
  }
  throw new Error(`the broker never held ${n} polls`);
}

/** The broker's /debug page once it holds no poll (the abort reaches it over TCP), or after 5 s. */
async function brokerLetsGo(): Promise<string> {
  let debug = "";
  for (let i = 0; i < 50; i++) {
    debug = await (await fetch(`${brokerURL}debug`)).text();
    if (/current snowflakes available: 0/.test(debug)) break;
    await sleep(100);
  }
  return debug;
}

async function stopBroker(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* exited */ }
  await child.status;
}

let broker = startBroker();
await waitForBroker();
const browser = await launchBrowser({ onConsole: (l) => console.error(`page: ${l}`) });
const { page } = browser;
let polls = 0;
let abortedPolls = 0;
page.on("request", (r) => {
  if (new URL(r.url()).pathname === "/proxy") polls++;
});
page.on("requestfailed", (r) => {
  if (new URL(r.url()).pathname === "/proxy") abortedPolls++;
});
const shot = (name: string) => page.screenshot({ path: `${outDir}/${name}.png` });
const pageURL = `${brokerURL}web-proxy/`;
const on = (v: PageView) => v.state === "polling" && v.nat !== "";

try {
  await page.goto(pageURL);
  findings.first = await waitForView(page, (v) => v.state !== "loading");
  await shot("1-off");

  await page.click("#toggle");
  findings.consentShown = await page.locator("#consent").evaluate((d) =>
    (d as HTMLDialogElement).open
  );
  findings.consentState = (await readView(page)).state;
  findings.pollsBeforeConsent = polls;
  await shot("2-consent");
  await page.click("#consent-yes");
  findings.polling = await waitForView(page, on);
  await shot("3-polling");

  const client = await dialThroughBroker(brokerURL);
  const w = client.conn.writable.getWriter();
  const r = client.conn.readable.getReader();
  await w.write(new Uint8Array(100_000));
  for (let got = 0; got < 100_000;) {
    const { value, done } = await r.read();
    if (done) break;
    got += value.length;
  }
  findings.relaying = await waitForView(page, (v) => v.state === "relaying" && v.bytes >= 200_000);
  findings.relayOpen = relay.open;
  await shot("4-relaying");

  // Off while a client is being relayed: polling stops and the relay closes at once.
  const pollsAtOff = polls;
  await page.click("#toggle");
  const clientClosed = client.conn.closed.then(() => true);
  findings.off = await waitForView(page, (v) => v.state === "off");
  findings.clientClosed = await Promise.race([clientClosed, sleep(10_000).then(() => false)]);
  for (let i = 0; i < 100 && relay.open > 0; i++) await sleep(100);
  findings.relayOpenAfterOff = relay.open;
  findings.brokerDebugAfterOff = await brokerLetsGo();
  await sleep(7000); // longer than the poll interval
  findings.pollsAfterOff = polls - pollsAtOff;
  await shot("5-switched-off");

  await page.reload();
  findings.reloadedOff = await waitForView(page, (v) => v.state !== "loading");
  await page.click("#toggle");
  findings.consentAskedAgain = await page.locator("#consent").evaluate((d) =>
    (d as HTMLDialogElement).open
  );
  await waitForView(page, on);
  await page.reload();
  const reloadedOn = await waitForView(page, (v) => v.state !== "loading");
  findings.reloadedOn = reloadedOn;
  // Transient (the WebRTC check, then the NAT probe): captured when caught.
  if (reloadedOn.state === "starting") await shot("6-starting");
  findings.reloadedOnPolling = await waitForView(page, on);
  await shot("6-reloaded-on-polling");

  // Off while a poll is held by the broker: the request is aborted, the broker lets go of it.
  await waitForBrokerWaiting(1);
  abortedPolls = 0;
  await page.click("#toggle");
  await waitForView(page, (v) => v.state === "off");
  findings.brokerDebugOffWhilePolling = await brokerLetsGo();
  for (let i = 0; i < 50 && abortedPolls === 0; i++) await sleep(100);
  findings.abortedPolls = abortedPolls;
  await page.click("#toggle");
  await waitForView(page, on);

  await stopBroker(broker);
  findings.brokerDown = await waitForView(page, (v) => v.state === "broker-down", 30_000);
  await shot("7-broker-down");
  broker = startBroker();
  await waitForBroker();
  findings.recovered = await waitForView(page, on, 30_000);

  const bare = await launchBrowser({ withoutWebRTC: true });
  await bare.page.goto(pageURL);
  findings.noWebRTC = await waitForView(bare.page, (v) => v.state !== "loading");
  await bare.page.screenshot({ path: `${outDir}/8-no-webrtc.png` });
  await bare.close();

  // WebRTC present but kept off the network by a setting (as privacy extensions set it): found
  // when switched on.
  const fenced = await launchBrowser({
    prefs: { webrtc: { ip_handling_policy: "disable_non_proxied_udp" } },
  });
  await fenced.page.goto(pageURL);
  await waitForView(fenced.page, (v) => v.state === "off");
  await switchOn(fenced.page);
  findings.webrtcFenced = await waitForView(fenced.page, (v) => v.state === "no-webrtc", 20_000)
    .catch((e) => (e as Error).message);
  await fenced.page.screenshot({ path: `${outDir}/9-webrtc-fenced.png` });
  await fenced.close();
  client.close();
} catch (e) {
  findings.error = `${(e as Error).message}`;
  await shot("error").catch(() => {});
} finally {
  await browser.close();
  await stopBroker(broker);
  await relay.close();
  stun.kill("SIGTERM");
  await stun.status;
}
console.log(JSON.stringify(findings));
Deno.exit(0);
