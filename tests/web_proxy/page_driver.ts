/**
 * Runs the web proxy page in headless Chromium until SIGTERM (run inside a namespace by
 * tests/web_proxy/e2e_test.ts and the benchmark): opens `URL`, turns the switch on, agrees,
 * and writes what the page shows to `OUT_DIR/view.json` every 500 ms. On SIGTERM it saves
 * `OUT_DIR/page.png`, writes the last view and closes the browser. Its first line on stdout
 * is `pid <chromium pid>`.
 *
 * `deno run -A page_driver.ts URL OUT_DIR`
 *
 * @module
 */
import { launchBrowser, readView, switchOn } from "./chromium.ts";

const [url, outDir] = Deno.args as [string, string];
const browser = await launchBrowser({ onConsole: (l) => console.error(`page: ${l}`) });
console.log(`pid ${browser.pid}`);
const { page } = browser;
await page.goto(url);
await page.waitForSelector("#toggle:not([disabled])");
await switchOn(page);

let stopping = false;
const write = async () => {
  const view = await readView(page);
  await Deno.writeTextFile(`${outDir}/view.json.tmp`, JSON.stringify(view));
  await Deno.rename(`${outDir}/view.json.tmp`, `${outDir}/view.json`);
};
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  await write().catch(() => {});
  await page.screenshot({ path: `${outDir}/page.png` }).catch(() => {});
  await browser.close();
  Deno.exit(0);
};
const timer = setInterval(() => void write().catch(() => {}), 500);
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
