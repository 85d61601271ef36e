/**
 * `deno task demo`: the real chain with tor. A private Tor network whose bridge runs our
 * Snowflake server (tests/e2e/harness.ts); a tor client whose pluggable transport is our
 * Snowflake client (`-max 2`); our broker; two of our proxies in their own network namespace,
 * so that WebRTC crosses a veth (tests/client/tor_chain.ts). Tor bootstraps through
 * Snowflake, then fetches a 10 MB file through its SocksPort (tests/client/socks_fetch.ts,
 * paced to 1 MB/s so the run can be watched). Halfway, the proxy carrying the session is
 * killed; the session moves to the other proxy and the file must still arrive intact.
 *
 * @module
 */
import { FILE_SIZE, progress, torNetwork } from "../tests/e2e/harness.ts";
import { TorChain } from "../tests/client/tor_chain.ts";
import { sleep } from "../lib/net/sleep.ts";

const RATE = 1_000_000;

/**
 * Runs the demo; `onStop` receives each teardown as soon as there is one, and the progress
 * loop ends once `interrupted` aborts. Resolves with the verdict.
 */
export async function runTor(
  onStop: (stop: () => Promise<void>) => void,
  interrupted: AbortSignal,
): Promise<{ ok: boolean; verdict: string }> {
  const net = await torNetwork();
  const chain = await TorChain.start(net);
  onStop(() => chain.stop());
  const proxies = [chain.ourProxy(), chain.ourProxy()];
  progress(
    `our broker at ${chain.brokerUrl}; our proxies ${proxies.map((p) => p.name).join(", ")}`,
  );
  const clientLog = `${chain.dir}/snowflake-client.log`;
  progress("starting tor with our Snowflake client as its pluggable transport (-max 2)");
  const client = await net.startClient({
    bridge: net.bridgeLine(),
    transportPlugin: chain.clientPlugin(clientLog, ["-max", "2"]),
    timeoutMs: 180_000,
  });
  onStop(() => client.stop());
  const progressFile = `${net.dir}/demo.progress`;
  const fetch = net.exec([
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-write",
    `${new URL("../tests/client/socks_fetch.ts", import.meta.url).pathname}`,
    String(client.socksPort),
    net.fileUrl,
    String(RATE),
    progressFile,
  ]);
  let done = false;
  fetch.finally(() => (done = true));
  const t0 = performance.now();
  let last = { t: t0, bytes: 0 };
  let killed: string | null = null;
  let longestStall = 0;
  let lastProgress = t0;
  while (!interrupted.aborted && !done) {
    await sleep(1000);
    let bytes = 0;
    try {
      bytes = Number(await Deno.readTextFile(progressFile));
    } catch { /* not yet */ }
    const now = performance.now();
    if (bytes > last.bytes) lastProgress = now;
    longestStall = Math.max(longestStall, (now - lastProgress) / 1000);
    const busy = await chain.busiestProxy().catch(() => null);
    if (interrupted.aborted) break;
    const rate = (bytes - last.bytes) / ((now - last.t) / 1000) / 1e6;
    console.log(
      `demo: ${(bytes / 1e6).toFixed(1).padStart(5)} of ${FILE_SIZE / 1e6} MB, ` +
        `${rate.toFixed(2)} MB/s, carried by ${busy?.proc.name ?? "?"}` +
        (killed ? ` (${killed} was killed)` : ""),
    );
    last = { t: now, bytes };
    if (!killed && bytes >= FILE_SIZE / 2 && busy) {
      killed = busy.proc.name;
      console.log(`demo: killing ${killed} (SIGKILL) halfway through the download`);
      await busy.proc.kill();
    }
  }
  const r = await fetch;
  const result = r.code === 0
    ? JSON.parse(new TextDecoder().decode(r.stdout)) as { bytes: number; sha256: string }
    : { bytes: 0, sha256: "" };
  const intact = result.bytes === FILE_SIZE && result.sha256 === net.fileSha256;
  const seconds = (performance.now() - t0) / 1000;
  // --max 2 stripes over both proxies (multipath): the kill shows as a lost path or a failover.
  const switched = /proxy \S+ lost|failover:/.test(
    await Deno.readTextFile(clientLog).catch(() => ""),
  );
  const ok = intact && killed !== null && switched;
  let verdict = `demo: ${ok ? "PASS" : "FAIL"}: tor bootstrapped through our Snowflake client ` +
    `in ${client.bootstrapSeconds.toFixed(1)} s; ${result.bytes} bytes in ${
      seconds.toFixed(1)
    } s, sha256 ${intact ? "matches" : "DIFFERS"}; ${killed ?? "no proxy"} killed halfway, ` +
    `session ${switched ? "moved to the other proxy" : "did NOT move"}; longest stall ` +
    `${longestStall.toFixed(0)} s`;
  if (r.code !== 0) verdict += `; download failed: ${r.stderr.trim().slice(-300)}`;
  return { ok, verdict };
}
