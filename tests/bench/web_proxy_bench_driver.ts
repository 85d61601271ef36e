/**
 * The web proxy benchmark's driver (tests/bench/web_proxy_bench.ts runs it inside namespace A):
 * our broker (`--serve-web-proxy`), a STUN server, a WebSocket source/sink relay and a WebRTC
 * client (@roamhq/wrtc) here; the proxy under test in namespace B, so that WebRTC and the
 * relay's WebSocket cross the veth: the page in headless Chromium (tests/web_proxy/
 * page_driver.ts), our `broker-proxy proxy`, or Debian's snowflake-proxy 2.5.1. Alternating
 * rounds; prints one JSON line of per-round figures. The CPU counted is the proxy's processes'
 * (every Chromium process for the page; not the playwright driver).
 *
 * `deno run -A web_proxy_bench_driver.ts NS_B A_ADDR MB ROUNDS`
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { freeTcpPort, terminate } from "../../lib/testing/util.ts";
import { DEFAULT_BRIDGE_FINGERPRINT } from "../../lib/snowflake/messages.ts";
import { dialThroughBroker } from "../proxy/fixtures.ts";
import { sourceSinkRelay, transfer } from "./source_sink.ts";
import { sleep } from "../../lib/net/sleep.ts";

const [nsB, A, mbArg, roundsArg] = Deno.args as [string, string, string, string];
const SIZE = Number(mbArg) * 1e6;
const ROUNDS = Number(roundsArg);
const ROOT = new URL("../../", import.meta.url).pathname;
const KINDS = ["page", "ours", "go"] as const;
type Kind = typeof KINDS[number];
/** Which processes in namespace B are the proxy, by command line. */
const PROCESS: Record<Kind, RegExp> = {
  page: /chromium/,
  ours: /proxy\/main\.ts/,
  go: /snowflake-proxy/,
};
const dir = await Deno.makeTempDir({ prefix: "web-proxy-bench-" });

function pidsOf(kind: Kind): number[] {
  const out = new Deno.Command("ip", { args: ["netns", "pids", nsB], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split(/\s+/).filter(Boolean).map(Number)
    .filter((pid) => {
      try {
        return PROCESS[kind].test(Deno.readTextFileSync(`/proc/${pid}/cmdline`));
      } catch {
        return false;
      }
    });
}

/** CPU seconds (user + system) the proxy's processes have used so far. */
function cpuSeconds(kind: Kind): number {
  let total = 0;
  for (const pid of pidsOf(kind)) {
    try {
      const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* exited */ }
  }
  return total;
}

/** The proxy's memory now: the sum of its processes' PSS (shared pages split among them). */
function pssMB(kind: Kind): number {
  let kb = 0;
  for (const pid of pidsOf(kind)) {
    try {
      const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch { /* exited */ }
  }
  return kb / 1024;
}

function inB(cmd: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", nsB, ...cmd],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

function startProxy(kind: Kind, broker: string, relay: string, stun: string): Deno.ChildProcess {
  if (kind === "page") {
    const out = `${dir}/page`;
    Deno.mkdirSync(out, { recursive: true });
    return inB([
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}tests/web_proxy/page_driver.ts`,
      `${broker}web-proxy/`,
      out,
    ]);
  }
  const relayFlags = ["-relay", relay, "-allowed-relay-hostname-pattern", `^${A}$`];
  if (kind === "ours") {
    return inB([
      Deno.execPath(),
      ...runArgs("broker-proxy", [
        "proxy",
        "-broker",
        broker,
        ...relayFlags,
        "-allow-non-tls-relay",
        "-stun",
        stun,
        "-nat-probe-server",
        `${broker}probe`,
        "-poll-interval",
        "2s",
      ]),
    ]);
  }
  return inB([
    "/usr/bin/snowflake-proxy",
    "-broker",
    broker,
    ...relayFlags,
    "-allow-non-tls-relay",
    "-stun",
    stun,
    "-summary-interval",
    "1h",
  ]);
}

async function waitForProxy(broker: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const debug = await fetch(`${broker}debug`).then((r) => r.text()).catch(() => "");
    if (Number(/current snowflakes available: (\d+)/.exec(debug)?.[1]) >= 1) return;
    await sleep(100);
  }
  throw new Error("no proxy ever polled the broker");
}

async function round(
  kind: Kind,
  broker: string,
  relay: string,
  stun: string,
): Promise<Record<string, number | string>> {
  const proxy = startProxy(kind, broker, relay, stun);
  try {
    await waitForProxy(broker);
    const client = await dialThroughBroker(broker);
    const t = await transfer(kind, client.conn, SIZE, () => cpuSeconds(kind));
    const pss = pssMB(kind);
    client.close();
    const mb = SIZE / 1e6;
    return {
      kind,
      downMBps: mb / t.downSeconds,
      upMBps: mb / t.upSeconds,
      downCpuPerMB: t.downCpu / mb,
      upCpuPerMB: t.upCpu / mb,
      pssMB: pss,
    };
  } finally {
    await terminate(proxy, 15_000);
  }
}

const relay = sourceSinkRelay(A);
const stunPort = freeTcpPort();
const stun = `stun:${A}:${stunPort}`;
const coturn = new Deno.Command("turnserver", {
  args: ["-n", "--stun-only", "--no-tls", "--no-dtls", "--no-cli", "-L", A, "-p", String(stunPort)]
    .concat(["--userdb", `${dir}/turndb`, "--log-file", "stdout", "--simple-log"]),
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
await Deno.writeTextFile(
  `${dir}/bridges.jsonl`,
  JSON.stringify({
    displayName: "bench",
    webSocketAddress: relay.url,
    fingerprint: DEFAULT_BRIDGE_FINGERPRINT,
  }) + "\n",
);
const brokerPort = freeTcpPort();
const brokerURL = `http://${A}:${brokerPort}/`;
const broker = new Deno.Command(Deno.execPath(), {
  args: runArgs("broker-proxy", [
    "broker",
    "--addr",
    `${A}:${brokerPort}`,
    "--disable-tls",
    "--bridge-list-path",
    `${dir}/bridges.jsonl`,
    "--allowed-relay-pattern",
    `^${A}$`,
    "--serve-web-proxy",
    "--web-proxy-stun",
    stun,
    "--client-timeout",
    "30s",
  ]),
  cwd: ROOT,
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
const results = [];
try {
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? KINDS : [...KINDS].reverse();
    for (const kind of order) results.push(await round(kind, brokerURL, relay.url, stun));
  }
} finally {
  await terminate(broker, 15_000);
  await terminate(coturn, 15_000);
  await relay.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
console.log(JSON.stringify(results));
