/**
 * `web-proxy:e2e`: the web proxy page in headless Chromium is a real client's Snowflake proxy.
 *
 * Our broker runs in the e2e harness's namespace (tests/e2e/harness.ts) with
 * `--serve-web-proxy`; its bridge list names our server, the bridge's transport, at
 * ws://10.77.0.1:8080/ — private and plain ws://, which the page accepts only because the
 * list names it. Chromium runs in a namespace of its own (tests/web_proxy/page_ns.ts), opens
 * the page from the broker, gets the consent dialog, agrees, probes its NAT and polls. Then tor
 * with a Snowflake client as its transport (Debian's snowflake-client; ours) rendezvouses
 * through the broker, gets the browser as its proxy, bootstraps and fetches the harness's
 * 10 MB file intact; the page's counters show the client and the bytes. Screenshots are saved
 * under a temp directory, printed.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { BINARIES, runArgs } from "../../tools/permissions.ts";
import {
  CAN_RUN,
  DENO,
  denoExec,
  FILE_SIZE,
  IP,
  type Proc,
  progress,
  readOr,
  torNetwork,
  waitFor,
} from "../e2e/harness.ts";
import { PageNs } from "./page_ns.ts";
import { HAS_CHROMIUM } from "./has_chromium.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const BROKER_PORT = 8110;

async function throughThePage(
  label: string,
  plugin: (broker: string, stun: string, log: string) => string,
): Promise<void> {
  const net = await torNetwork();
  const artifacts = await Deno.makeTempDir({ prefix: `web-proxy-e2e-${label}-` });
  progress(`web-proxy:e2e ${label}: artifacts in ${artifacts}`);
  const broker = `http://${IP}:${BROKER_PORT}/`;
  const stun = net.stunUrl;
  const tag = `web-proxy-${label}-${Deno.pid}`;
  const bridgeList = `${artifacts}/bridges.jsonl`;
  await Deno.writeTextFile(
    bridgeList,
    JSON.stringify({
      displayName: "e2e",
      webSocketAddress: net.serverUrl,
      fingerprint: net.bridgeFingerprint,
    }) + "\n",
  );
  const brokerLog = `${artifacts}/broker.log`;
  const procs: Proc[] = [
    net.spawn(`broker-${tag}`, [
      DENO,
      ...runArgs("broker-proxy", [
        "broker",
        "--addr",
        `${IP}:${BROKER_PORT}`,
        "--disable-tls",
        "--bridge-list-path",
        bridgeList,
        "--allowed-relay-pattern",
        `^${IP}$`,
        "--serve-web-proxy",
        "--web-proxy-stun",
        stun,
        "--unsafe-logging",
        "--log",
        brokerLog,
      ]).map((a) => (a === "proxy/main.ts" ? `${ROOT}/${a}` : a)),
    ]),
  ];
  const pageNs = await PageNs.create(net);
  const page = pageNs.startPage(`${broker}web-proxy/`, artifacts);
  const clientLog = `${artifacts}/snowflake-client.log`;
  try {
    await waitFor(
      () => page.view()?.state === "polling" && page.view()?.nat === "unrestricted",
      90_000,
      () => procs[0]!.exited ? `broker exited: ${readOr(brokerLog)}` : null,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(page.view())}\n${page.log()}`);
    });
    progress(`web-proxy:e2e ${label}: the page polls, NAT ${page.view()?.nat}`);
    const client = await net.startClient({
      bridge: net.bridgeLine(),
      transportPlugin: plugin(broker, stun, clientLog),
      timeoutMs: 180_000,
    }).catch((e) => {
      const tail = (t: string) => t.split("\n").slice(-20).join("\n");
      throw new Error(
        `${(e as Error).message}\n--- client:\n${tail(readOr(clientLog))}\n--- page:\n${
          tail(page.log())
        }\n--- broker:\n${tail(readOr(brokerLog))}`,
      );
    });
    try {
      const got = await net.curl(client, net.fileUrl, `web-proxy-${label}.bin`);
      progress(
        `web-proxy:e2e ${label}: bootstrapped in ${client.bootstrapSeconds.toFixed(1)} s, ` +
          `10 MB in ${got.seconds.toFixed(1)} s (${
            (got.bytes / 1e6 / got.seconds).toFixed(2)
          } MB/s)`,
      );
      assertEquals(got.bytes, FILE_SIZE);
      assertEquals(got.sha256, net.fileSha256, "the file arrived intact");
      await waitFor(() => (page.view()?.bytes ?? 0) >= FILE_SIZE, 10_000).catch(() => {});
      const view = page.view()!;
      progress(`web-proxy:e2e ${label}: the page shows ${JSON.stringify(view)}`);
      assert(view.clients >= 1, `the page counts the client: ${JSON.stringify(view)}`);
      assert(view.bytes >= FILE_SIZE, `the page counts the bytes: ${JSON.stringify(view)}`);
      assert(
        ["relaying", "polling"].includes(view.state),
        `the page is on: ${JSON.stringify(view)}`,
      );
    } finally {
      await client.stop();
    }
  } finally {
    await page.stop();
    await pageNs.delete();
    for (const p of procs) await p.stop();
    progress(`web-proxy:e2e ${label}: screenshot ${artifacts}/page.png`);
  }
}

Deno.test({
  name: "web-proxy:e2e Debian's snowflake-client → our broker → the page in Chromium → tor",
  ignore: !CAN_RUN || !HAS_CHROMIUM || !readOr("/usr/bin/snowflake-client").length,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    throughThePage("go-client", (broker, stun, log) =>
      [
        "snowflake exec /usr/bin/snowflake-client",
        `-url ${broker}`,
        `-ice ${stun}`,
        "-unsafe-logging",
        `-log ${log}`,
      ].join(" ")),
});

Deno.test({
  name: "web-proxy:e2e our client → our broker → the page in Chromium → tor",
  ignore: !CAN_RUN || !HAS_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    throughThePage(
      "our-client",
      (broker, stun, log) =>
        `snowflake ${
          denoExec("client/main.ts", BINARIES.client!.flags, [
            "-url",
            broker,
            "-ice",
            stun,
            "-log",
            log,
          ])
        }`,
    ),
});
