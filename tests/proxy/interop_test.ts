/**
 * `interop:go-client-our-proxy`: Debian's snowflake-client (Go 2.5.1) as tor's pluggable
 * transport → our broker → our proxy → our server (the bridge's transport) → the private Tor
 * network of tests/e2e/harness.ts. Everything runs in the harness's namespace, whose addresses
 * are private (10.77.0.0/24): both WebRTC peers keep local candidates and our proxy is allowed
 * to relay to a private, non-TLS server, as an operator testing a LAN bridge would configure it.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { runArgs } from "../../tools/permissions.ts";
import { CAN_RUN, DENO, IP, type Proc, progress, readOr, torNetwork } from "../e2e/harness.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "interop:go-client-our-proxy: Go client → our broker → OUR proxy → our server → tor, 10 MB intact",
  ignore: !CAN_RUN || !readOr("/usr/bin/snowflake-client").length,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const relay = net.serverUrl; // ws://10.77.0.1:8080/
    const relayHost = new URL(relay).host;
    const brokerPort = 20000 + (Deno.pid % 20000);
    const broker = `http://${IP}:${brokerPort}/`;
    const tag = `ours-${Deno.pid}`;
    const bridgeList = `${net.dir}/bridges-${tag}.json`;
    await Deno.writeTextFile(
      bridgeList,
      JSON.stringify({
        displayName: "local",
        webSocketAddress: relay,
        fingerprint: net.bridgeFingerprint,
      }) + "\n",
    );
    const procs: Proc[] = [];
    const brokerProc = net.spawn(`broker-${tag}`, [
      DENO,
      ...runArgs("broker-proxy", [
        "broker",
        "--addr",
        `${IP}:${brokerPort}`,
        "--disable-tls",
        "--bridge-list-path",
        bridgeList,
        "--allowed-relay-pattern",
        `^${relayHost}$`,
        "--unsafe-logging",
      ]),
    ]);
    procs.push(brokerProc);
    const proxyLog = `${net.dir}/proxy-${tag}.log`;
    const proxy = net.spawn(`proxy-${tag}`, [
      DENO,
      ...runArgs("broker-proxy", [
        "proxy",
        "-broker",
        broker,
        "-nat-probe-server",
        `${broker}probe`,
        "-stun",
        "",
        "-allowed-relay-hostname-pattern",
        `^${relayHost}$`,
        "-allow-non-tls-relay",
        "-allow-proxying-to-private-addresses",
        "-keep-local-addresses",
        "-summary-interval",
        "10s",
        "-unsafe-logging",
        "-verbose",
        "-log",
        proxyLog,
      ]),
    ]);
    procs.push(proxy);
    const clientLog = `${net.dir}/snowflake-client-${tag}.log`;
    try {
      // The broker answers proxies only once it listens; our proxy retries its polls anyway.
      for (let i = 0; i < 100 && !/NAT type: unknown ->/.test(readOr(proxyLog)); i++) {
        await sleep(200);
      }
      const client = await net.startClient({
        bridge: net.bridgeLine(),
        transportPlugin: [
          "snowflake exec /usr/bin/snowflake-client",
          `-url ${broker}`,
          // Any valid STUN URL (2.5.1 refuses none); unreachable here, host candidates suffice.
          `-ice stun:${IP}:3478`,
          "-keep-local-addresses",
          "-unsafe-logging",
          `-log ${clientLog}`,
        ].join(" "),
        timeoutMs: 180_000,
      }).catch((e) => {
        const tail = (t: string) => t.split("\n").slice(-15).join("\n");
        throw new Error(
          `${(e as Error).message}\n--- snowflake-client:\n${tail(readOr(clientLog))}` +
            `\n--- our proxy:\n${tail(readOr(proxyLog))}` +
            `\n--- our broker:\n${tail(readOr(`${net.dir}/broker-${tag}.out`))}`,
        );
      });
      try {
        const got = await net.curl(client, net.fileUrl, `via-our-proxy-${tag}.bin`);
        progress(
          `go client → our proxy: bootstrapped in ${client.bootstrapSeconds.toFixed(1)} s, ` +
            `10 MB in ${got.seconds.toFixed(1)} s (${
              (got.bytes / 1e6 / got.seconds).toFixed(2)
            } MB/s)`,
        );
        assertEquals(got.sha256, net.fileSha256, "the file arrived intact");
        const log = readOr(proxyLog);
        assert(/client connected/.test(log), `our proxy served the client:\n${log}`);
        assert(
          /NAT type: unknown -> unrestricted/.test(log),
          `our proxy probed our broker:\n${log}`,
        );
      } finally {
        await client.stop();
      }
      for (let i = 0; i < 50 && !/In the last 10s, there were [1-9]/.test(readOr(proxyLog)); i++) {
        await sleep(200);
      }
      assert(/Traffic Relayed ↓ [1-9]/.test(readOr(proxyLog)), "the summary counts the bytes");
      await proxy.stop();
      assertEquals((await proxy.status).code, 0, "our proxy exits 0 on SIGTERM");
    } finally {
      for (const p of procs) await p.stop();
    }
  },
});
