/**
 * Our proxy among real foreign peers, in the shared e2e network (tests/e2e/harness.ts: a
 * private Tor network, our broker, a TLS NAT-probe instance at the URL Debian's proxy hard-codes,
 * a coturn STUN server and our server as the bridge's transport):
 *
 * - `interop:go-client-our-proxy`: Debian's snowflake-client (Go 2.5.1) as tor's pluggable
 *   transport → our broker → OUR proxy → our server → tor. The namespace's addresses are
 *   private (10.77.0.0/24), so our proxy keeps local candidates and may relay to a private,
 *   non-TLS server, as an operator testing a LAN bridge would configure it.
 * - `probe:` our proxy, with its default probe URL (Go's), gets the same answer from our /probe
 *   as Debian's snowflake-proxy does (tests/interop/go_peers_test.ts).
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { runArgs } from "../../tools/permissions.ts";
import {
  CAN_RUN,
  DENO,
  FILE_SIZE,
  IP,
  type Proc,
  progress,
  readOr,
  type TorNetwork,
  torNetwork,
  waitFor,
} from "../e2e/harness.ts";

const CAN_RUN_GO = CAN_RUN && readOr("/usr/bin/snowflake-client").length > 0;
const tail = (text: string, n = 15) => text.split("\n").slice(-n).join("\n");

/** Starts our proxy in the network; its log is `<dir>/<name>.log`. */
function startOurProxy(net: TorNetwork, name: string): { proc: Proc; log: () => string } {
  const logPath = `${net.dir}/${name}.log`;
  const proc = net.spawn(name, [
    "env",
    // Trust the probe instance's self-signed certificate (Deno reads DENO_CERT).
    `DENO_CERT=${net.probeCert}`,
    DENO,
    ...runArgs("broker-proxy", [
      "proxy",
      "-broker",
      net.brokerUrl,
      "-relay",
      net.serverUrl,
      "-allow-non-tls-relay",
      "-allow-proxying-to-private-addresses",
      "-allowed-relay-hostname-pattern",
      `^${IP}$`,
      "-keep-local-addresses",
      "-stun",
      net.stunUrl,
      "-summary-interval",
      "10s",
      "-verbose",
      "-unsafe-logging",
      "-log",
      logPath,
    ]),
  ]);
  return { proc, log: () => readOr(logPath) };
}

Deno.test({
  name: "probe: our proxy, with Go's default probe URL, is found unrestricted by our /probe",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const proxy = startOurProxy(net, `our-proxy-probe-${Deno.pid}`);
    try {
      await waitFor(
        () => /NAT type: unknown -> \w+/.test(proxy.log()),
        60_000,
        () => proxy.proc.exited ? "our proxy exited" : null,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n--- our proxy:\n${tail(proxy.log())}`);
      });
      const nat = /NAT type: unknown -> (\w+)/.exec(proxy.log())![1];
      progress(`our proxy: NAT type ${nat}`);
      assertEquals(nat, "unrestricted", proxy.log());
      assert(/snowflake-broker\.torproject\.net:8443\/probe/.test(proxy.log()), "Go's probe URL");
      // Both ends agree: our /probe saw the channel open too.
      await waitFor(() => /probe: data channel opened/.test(net.brokerLog("probe")), 15_000)
        .catch(() => {
          throw new Error(`our /probe never saw the channel open:\n${net.brokerLog("probe")}`);
        });
      await net.waitForBrokerProxies("unrestricted");
    } finally {
      await proxy.proc.stop();
    }
  },
});

Deno.test({
  name:
    "interop:go-client-our-proxy: tor with Debian's snowflake-client bootstraps through our broker, OUR proxy and our server, and fetches 10 MB",
  ignore: !CAN_RUN_GO,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const proxy = startOurProxy(net, `our-proxy-chain-${Deno.pid}`);
    const clientLog = `${net.dir}/go-client-our-proxy.log`;
    try {
      await net.waitForBrokerProxies("unrestricted").catch((e) => {
        throw new Error(`${(e as Error).message}\n--- our proxy:\n${tail(proxy.log())}`);
      });
      const client = await net.startClient({
        bridge: net.bridgeLine(),
        transportPlugin: net.goClientTransportPlugin(clientLog),
        timeoutMs: 180_000,
      }).catch((e) => {
        throw new Error(
          `${(e as Error).message}\n--- snowflake-client:\n${tail(readOr(clientLog))}` +
            `\n--- our proxy:\n${tail(proxy.log())}\n--- broker:\n${tail(net.brokerLog())}` +
            `\n--- server:\n${tail(net.serverLog())}`,
        );
      });
      try {
        const got = await net.curl(client, net.fileUrl, "via-go-client-our-proxy.bin");
        progress(
          `Go client → our broker → OUR proxy → our server: bootstrapped in ` +
            `${client.bootstrapSeconds.toFixed(1)} s; ${got.bytes} bytes in ` +
            `${got.seconds.toFixed(1)} s (${(got.bytes / got.seconds / 1e6).toFixed(2)} MB/s)`,
        );
        assertEquals(got.bytes, FILE_SIZE);
        assertEquals(got.sha256, net.fileSha256, "the file arrived intact");
        assert(/client connected/.test(proxy.log()), `our proxy served it:\n${proxy.log()}`);
      } finally {
        await client.stop();
      }
      await waitFor(() => /Traffic Relayed ↓ [1-9]/.test(proxy.log()), 15_000).catch(() => {
        throw new Error(`no summary with the relayed bytes:\n${tail(proxy.log())}`);
      });
      await proxy.proc.stop();
      assertEquals((await proxy.proc.status).code, 0, "our proxy exits 0 on SIGTERM");
    } finally {
      await proxy.proc.stop();
    }
  },
});
