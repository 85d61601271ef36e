// amp: Debian's snowflake-client rendezvousing through an AMP cache (a stand-in that fetches
// from our broker's /amp/client/), as tor's PT, then Debian's snowflake-proxy and our server.
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import {
  AMP_CACHE,
  CAN_RUN,
  DENO,
  FILE_SIZE,
  IP,
  type Proc,
  progress,
  readOr,
  ROOT,
  torNetwork,
} from "../e2e/harness.ts";

const CAN_RUN_GO = CAN_RUN &&
  ["/usr/bin/snowflake-client", "/usr/bin/snowflake-proxy"].every((p) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  });

const tail = (text: string, n = 15) => text.split("\n").slice(-n).join("\n");

Deno.test({
  name:
    "amp: tor with Debian's snowflake-client using -ampcache bootstraps through our broker's /amp/client/ and fetches 10 MB",
  ignore: !CAN_RUN_GO,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const procs: Proc[] = [];
    const clientLog = `${net.dir}/go-client-amp.log`;
    try {
      procs.push(net.spawn("amp-cache", [
        DENO,
        "run",
        "--allow-net",
        `${ROOT}/tests/interop/go_amp_cache.ts`,
        IP,
        String(AMP_CACHE.port),
        net.brokerUrl,
      ]));
      procs.push(net.startGoProxy("go-proxy-amp"));
      await net.waitForBrokerProxies("unrestricted");
      const plugin = net.goClientTransportPlugin(clientLog, [
        "-ampcache",
        `http://${AMP_CACHE.cache}:${AMP_CACHE.port}/`,
      ]).replace(net.brokerUrl, `http://${AMP_CACHE.broker}/`);
      const client = await net.startClient({
        bridge: net.bridgeLine(),
        transportPlugin: plugin,
        timeoutMs: 180_000,
      }).catch((e) => {
        throw new Error(
          `${(e as Error).message}\n--- snowflake-client:\n${tail(readOr(clientLog))}` +
            `\n--- AMP cache:\n${tail(readOr(`${net.dir}/amp-cache.out`))}` +
            `\n--- broker:\n${tail(net.brokerLog())}`,
        );
      });
      try {
        const got = await net.curl(client, net.fileUrl, "via-amp.bin");
        progress(`via the AMP cache rendezvous: ${got.bytes} bytes in ${got.seconds.toFixed(1)} s`);
        assertEquals(got.bytes, FILE_SIZE);
        assertEquals(got.sha256, net.fileSha256);
      } finally {
        await client.stop();
      }
      assert(
        /AMP cache rendezvous/.test(readOr(clientLog)),
        "the client did not use the AMP cache",
      );
      const cacheLog = readOr(`${net.dir}/amp-cache.out`);
      assert(
        cacheLog.includes(
          `GET ${AMP_CACHE.brokerOnCache}:${AMP_CACHE.port}/c/${AMP_CACHE.broker}/amp/client/0`,
        ),
        cacheLog,
      );
      const metrics = new TextDecoder().decode(
        (await net.exec(["curl", "-sS", net.brokerUrl + "metrics"])).stdout,
      );
      assert(/client-ampcache-count [1-9]/.test(metrics), metrics);
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  },
});
