/**
 * `deno task demo --no-tor`: the Snowflake chain without tor. Our broker, our server (its
 * "ORPort" the built-in SOCKS5 server of tools/demo_socks.ts) and a small HTTP origin serving
 * a random 10 MB file in one network namespace; two of our proxies in a second one, across a
 * veth, so that WebRTC has non-loopback addresses (tests/client/chain.ts); our client in
 * standalone SOCKS mode (`--max 2`). curl fetches the file through the client with
 * `--socks5-hostname` (the built-in SOCKS5 server paces it to 1 MB/s, so the run can be
 * watched); halfway, the proxy carrying the
 * session is killed, and the file must still arrive with the right sha256.
 *
 * @module
 */
import { Chain } from "../tests/client/chain.ts";
import { sha256Hex } from "../lib/testing/util.ts";
import { sleep } from "../lib/net/sleep.ts";

const FILE_SIZE = 10_000_000;
const RATE = 1_000_000;

/**
 * Runs the demo; `onStop` receives each teardown as soon as there is one, and the progress
 * loop ends once `interrupted` aborts. Resolves with the verdict.
 */
export async function runNoTor(
  onStop: (stop: () => Promise<void>) => void,
  interrupted: AbortSignal,
): Promise<{ ok: boolean; verdict: string }> {
  console.log("demo: starting our broker, our server with a built-in origin, STUN (no tor)");
  const chain = await Chain.start({
    subnet: 77,
    fileSize: FILE_SIZE,
    socks: "builtin",
    socksRate: RATE,
  });
  onStop(() => chain.stop());
  const proxies = [chain.ourProxy(), chain.ourProxy()];
  console.log(`demo: our broker at ${chain.brokerUrl}; our proxies ${proxies.map((p) => p.name)}`);
  await chain.waitForProxies(2);
  const client = await chain.ourClient(["--max", "2"]);
  console.log(`demo: our client listens for SOCKS on 127.0.0.1:${client.port}; fetching with curl`);
  const out = `${chain.net.dir}/download.bin`;
  const curl = chain.net.spawn(chain.net.a, "curl", [
    "curl",
    "-sS",
    "--max-time",
    "120",
    "--socks5-hostname",
    `127.0.0.1:${client.port}`,
    "-o",
    out,
    chain.fileUrl,
  ]);
  const t0 = performance.now();
  let last = { t: t0, bytes: 0 };
  let killed: string | null = null;
  while (!interrupted.aborted && !curl.exited) {
    await Promise.race([sleep(1000), curl.status]);
    const bytes = await Deno.stat(out).then((s) => s.size, () => 0);
    const now = performance.now();
    const pid = await chain.busiestProxyPid().catch(() => null);
    if (interrupted.aborted) break;
    const busy = proxies.find((p) => p.pid === pid && !p.exited);
    const rate = (bytes - last.bytes) / ((now - last.t) / 1000) / 1e6;
    console.log(
      `demo: ${(bytes / 1e6).toFixed(1).padStart(5)} of ${FILE_SIZE / 1e6} MB, ` +
        `${rate.toFixed(2)} MB/s, carried by ${busy?.name ?? "?"}` +
        (killed ? ` (${killed} was killed)` : ""),
    );
    last = { t: now, bytes };
    if (!killed && bytes >= FILE_SIZE / 2 && busy) {
      killed = busy.name;
      console.log(`demo: killing ${killed} (SIGKILL) halfway through the download`);
      await busy.kill();
    }
  }
  const code = (await curl.status).code;
  const data = await Deno.readFile(out).catch(() => new Uint8Array());
  const intact = data.length === FILE_SIZE && (await sha256Hex(data)) === chain.fileSha256;
  const seconds = (performance.now() - t0) / 1000;
  // --max 2 stripes over both proxies (multipath): the kill shows as a lost path or a failover.
  const switched = /proxy \S+ lost|failover:/.test(
    await Deno.readTextFile(client.log).catch(() => ""),
  );
  const ok = code === 0 && intact && killed !== null && switched;
  let verdict = `demo: ${ok ? "PASS" : "FAIL"}: curl through our Snowflake client (no tor): ` +
    `${data.length} bytes in ${seconds.toFixed(1)} s, sha256 ${intact ? "matches" : "DIFFERS"}; ` +
    `${killed ?? "no proxy"} killed halfway, session ` +
    `${switched ? "moved to the other proxy" : "did NOT move"}`;
  if (code !== 0) verdict += `; curl failed: ${curl.log().trim().slice(-300)}`;
  return { ok, verdict };
}
