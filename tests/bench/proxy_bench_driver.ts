/**
 * The proxy benchmark's driver (tests/bench/proxy_bench.ts runs it inside namespace A): a
 * scripted broker, a WebSocket relay and a WebRTC client here; the proxy under test — ours or
 * Debian's snowflake-proxy 2.5.1 — in namespace B, so that WebRTC and the relay's WebSocket both
 * cross the veth. Alternating rounds; prints one JSON line of per-round figures.
 *
 * `deno run -A proxy_bench_driver.ts NS_B A_ADDR MB ROUNDS`
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { dialThroughBroker, RendezvousBroker } from "../proxy/fixtures.ts";
import { sourceSinkRelay, transfer } from "./source_sink.ts";
import { terminate } from "../../lib/testing/util.ts";
import { sleep } from "../../lib/net/sleep.ts";

const [nsB, A, mbArg, roundsArg] = Deno.args as [string, string, string, string];
const SIZE = Number(mbArg) * 1e6;
const ROUNDS = Number(roundsArg);

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function startProxy(kind: string, broker: string, relay: string): Deno.ChildProcess {
  const common = { stdin: "null" as const, stdout: "null" as const, stderr: "null" as const };
  if (kind === "ours") {
    return new Deno.Command("ip", {
      ...common,
      args: [
        "netns",
        "exec",
        nsB,
        Deno.execPath(),
        ...runArgs("broker-proxy", [
          "proxy",
          "-broker",
          broker,
          "-relay",
          relay,
          "-stun",
          "",
          "-allowed-relay-hostname-pattern",
          "$",
          "-allow-non-tls-relay",
          "-nat-probe-server",
          `${broker}probe`,
          "-poll-interval",
          "2s",
        ]),
      ],
    }).spawn();
  }
  return new Deno.Command("ip", {
    ...common,
    args: [
      "netns",
      "exec",
      nsB,
      "/usr/bin/snowflake-proxy",
      "-broker",
      broker,
      "-relay",
      relay,
      "-stun",
      `stun:${A}:3478`,
      "-allowed-relay-hostname-pattern",
      "$",
      "-allow-non-tls-relay",
      "-summary-interval",
      "1h",
    ],
  }).spawn();
}

async function round(kind: string): Promise<Record<string, number | string>> {
  const relay = sourceSinkRelay(A);
  const broker = new RendezvousBroker({ hostname: A, relayURL: relay.url, clientWaitMs: 30_000 });
  const proxy = startProxy(kind, broker.url, relay.url);
  try {
    for (let i = 0; i < 600 && broker.polls.length === 0; i++) await sleep(100);
    const t0 = performance.now();
    const client = await dialThroughBroker(broker.url);
    const connectSeconds = (performance.now() - t0) / 1000;
    const t = await transfer(kind, client.conn, SIZE, () => cpuSeconds(proxy.pid));
    client.close();
    const status = Deno.readTextFileSync(`/proc/${proxy.pid}/status`);
    const peakRssMB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    const mb = SIZE / 1e6;
    return {
      kind,
      connectSeconds,
      downMBps: mb / t.downSeconds,
      upMBps: mb / t.upSeconds,
      downCpuPerMB: t.downCpu / mb,
      upCpuPerMB: t.upCpu / mb,
      peakRssMB,
    };
  } finally {
    await terminate(proxy, 10_000);
    await broker.close();
    await relay.close();
  }
}

const results = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const kind of i % 2 === 0 ? ["ours", "go"] : ["go", "ours"]) results.push(await round(kind));
}
console.log(JSON.stringify(results));
