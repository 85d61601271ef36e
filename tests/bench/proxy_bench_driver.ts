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

/** The proxy's WebRTC host processes (proxy/webrtc_process.ts): its children. */
function children(pid: number): number[] {
  const list = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
  return list === "" ? [] : list.split(" ").map(Number);
}

/** A process's RSS and its peak (the kernel's VmHWM), MB. */
function memory(pid: number): { rssMB: number; peakMB: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMB: kib("VmRSS") / 1024, peakMB: kib("VmHWM") / 1024 };
}

/** A process's private pages (MB): what it adds to another process mapping the same files. */
function privateMB(pid: number): number {
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(rollup)?.[1] ?? 0);
  return (kib("Private_Clean") + kib("Private_Dirty")) / 1024;
}

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
    const hosts = children(proxy.pid);
    const cpu = () => [proxy.pid, ...hosts].reduce((n, p) => n + cpuSeconds(p), 0);
    let togetherPeakMB = 0;
    let done = false;
    const sampler = (async () => {
      for (; !done; await sleep(200)) {
        const together = memory(proxy.pid).rssMB + hosts.reduce((n, h) => n + privateMB(h), 0);
        togetherPeakMB = Math.max(togetherPeakMB, together);
      }
    })();
    const t = await transfer(kind, client.conn, SIZE, cpu).finally(() => done = true);
    await sampler;
    client.close();
    const peakRssMB = memory(proxy.pid).peakMB;
    const hostPeakRssMB = hosts.reduce((n, h) => n + memory(h).peakMB, 0);
    const mb = SIZE / 1e6;
    return {
      kind,
      connectSeconds,
      downMBps: mb / t.downSeconds,
      upMBps: mb / t.upSeconds,
      downCpuPerMB: t.downCpu / mb,
      upCpuPerMB: t.upCpu / mb,
      peakRssMB,
      hostPeakRssMB,
      totalPeakRssMB: peakRssMB + hostPeakRssMB,
      togetherPeakMB,
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
