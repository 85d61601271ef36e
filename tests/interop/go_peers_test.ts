// Debian's Go snowflake-client and snowflake-proxy (2.5.1) with our broker, probe and server,
// in the e2e harness's namespace and private Tor network.
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_RUN, FILE_SIZE, progress, readOr, torNetwork, waitFor } from "../e2e/harness.ts";

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
  name: "probe: Debian's snowflake-proxy, probed by our /probe, reports NAT unrestricted",
  ignore: !CAN_RUN_GO,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const name = "go-proxy-probe";
    const proxy = net.startGoProxy(name);
    const log = () => readOr(`${net.dir}/${name}.log`);
    try {
      await waitFor(
        () => /NAT type: \w+/.test(log()),
        60_000,
        () => proxy.exited ? "snowflake-proxy exited" : null,
      )
        .catch((e) => {
          throw new Error(
            `${(e as Error).message}\n--- proxy log:\n${tail(log())}\n--- probe log:\n${
              tail(net.brokerLog("probe"))
            }`,
          );
        });
      const nat = /NAT type: (\w+)/.exec(log())![1];
      progress(
        `Debian's snowflake-proxy: NAT type ${nat}; probe log: ${tail(net.brokerLog("probe"), 2)}`,
      );
      assertEquals(nat, "unrestricted");
      assert(
        /probe: data channel opened/.test(net.brokerLog("probe")),
        "our probe never saw the channel open",
      );
      // The proxy then polls our broker as unrestricted.
      await net.waitForBrokerProxies("unrestricted");
    } finally {
      await proxy.stop();
    }
  },
});

Deno.test({
  name:
    "interop:go-client-go-proxy: tor with Debian's snowflake-client bootstraps through our broker, Debian's snowflake-proxy and our server, and fetches 10 MB",
  ignore: !CAN_RUN_GO,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const name = "go-proxy-chain";
    const proxy = net.startGoProxy(name);
    const proxyLog = () => readOr(`${net.dir}/${name}.log`);
    const clientLog = `${net.dir}/go-client-chain.log`;
    try {
      await net.waitForBrokerProxies("unrestricted").catch((e) => {
        throw new Error(`${(e as Error).message}\n--- proxy log:\n${tail(proxyLog())}`);
      });
      const client = await net.startClient({
        bridge: net.bridgeLine(),
        transportPlugin: net.goClientTransportPlugin(clientLog),
        timeoutMs: 180_000,
      }).catch((e) => {
        throw new Error(
          `${(e as Error).message}\n--- snowflake-client log:\n${tail(readOr(clientLog))}` +
            `\n--- snowflake-proxy log:\n${tail(proxyLog())}\n--- broker log:\n${
              tail(net.brokerLog())
            }` +
            `\n--- server log:\n${tail(net.serverLog())}`,
        );
      });
      try {
        const got = await net.curl(client, net.fileUrl, "via-go-client-go-proxy.bin");
        progress(
          `Go client → our broker → Go proxy → our server: ${got.bytes} bytes in ` +
            `${got.seconds.toFixed(1)} s (${(got.bytes / got.seconds / 1e6).toFixed(2)} MB/s)`,
        );
        assertEquals(got.bytes, FILE_SIZE);
        assertEquals(got.sha256, net.fileSha256);
        // The rendezvous went through our broker: the client was matched and answered.
        const metrics = new TextDecoder().decode(
          (await net.exec(["curl", "-sS", net.brokerUrl + "metrics"])).stdout,
        );
        assert(/client-snowflake-match-count [1-9]/.test(metrics), metrics);
      } finally {
        await client.stop();
      }
    } finally {
      await proxy.stop();
    }
  },
});
