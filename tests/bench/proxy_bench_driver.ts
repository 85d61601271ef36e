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

const [nsB, A, mbArg, roundsArg] = Deno.args as [string, string, string, string];
const SIZE = Number(mbArg) * 1e6;
const ROUNDS = Number(roundsArg);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The relay: a client first sends `D` or `U` and a u32 size. `D`: the relay streams that many
 * bytes to it. `U`: the relay counts that many bytes from it and answers one byte.
 */
function benchRelay(hostname: string): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ hostname, port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    let header = new Uint8Array(0);
    let mode = "";
    let want = 0;
    let got = 0;
    socket.onmessage = async (e) => {
      let data = new Uint8Array(e.data as ArrayBuffer);
      if (mode === "") {
        const h = new Uint8Array(header.length + data.length);
        h.set(header);
        h.set(data, header.length);
        if (h.length < 5) return void (header = h);
        mode = String.fromCharCode(h[0]!);
        want = new DataView(h.buffer).getUint32(1);
        data = h.subarray(5);
        header = new Uint8Array(0);
        if (mode === "D") {
          mode = "";
          const chunk = new Uint8Array(65536);
          for (let sent = 0; sent < want; sent += chunk.length) {
            socket.send(chunk.subarray(0, Math.min(chunk.length, want - sent)));
            while (socket.bufferedAmount > 1 << 20) await sleep(2);
          }
          return;
        }
      }
      got += data.length;
      if (mode === "U" && got >= want) {
        mode = "";
        got = 0;
        socket.send(new Uint8Array([1]));
      }
    };
    return response;
  });
  return { url: `ws://${hostname}:${server.addr.port}/`, close: () => server.shutdown() };
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
  const relay = benchRelay(A);
  const broker = new RendezvousBroker({ hostname: A, relayURL: relay.url, clientWaitMs: 30_000 });
  const proxy = startProxy(kind, broker.url, relay.url);
  try {
    for (let i = 0; i < 600 && broker.polls.length === 0; i++) await sleep(100);
    const t0 = performance.now();
    const client = await dialThroughBroker(broker.url);
    const connectSeconds = (performance.now() - t0) / 1000;
    const w = client.conn.writable.getWriter();
    const r = client.conn.readable.getReader();
    const header = (mode: string) => {
      const h = new Uint8Array(5);
      h[0] = mode.charCodeAt(0);
      new DataView(h.buffer).setUint32(1, SIZE);
      return h;
    };

    let cpu = cpuSeconds(proxy.pid);
    let t = performance.now();
    await w.write(header("D"));
    for (let got = 0; got < SIZE;) {
      const { value, done } = await r.read();
      if (done) throw new Error(`${kind}: download ended after ${got} bytes`);
      got += value.length;
    }
    const downSeconds = (performance.now() - t) / 1000;
    const downCpu = cpuSeconds(proxy.pid) - cpu;

    cpu = cpuSeconds(proxy.pid);
    t = performance.now();
    await w.write(header("U"));
    const payload = new Uint8Array(50_000);
    for (let sent = 0; sent < SIZE; sent += payload.length) await w.write(payload);
    const ack = await r.read();
    if (ack.done) throw new Error(`${kind}: upload not acknowledged`);
    const upSeconds = (performance.now() - t) / 1000;
    const upCpu = cpuSeconds(proxy.pid) - cpu;
    w.releaseLock();
    r.releaseLock();
    client.close();
    const status = Deno.readTextFileSync(`/proc/${proxy.pid}/status`);
    const peakRssMB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    const mb = SIZE / 1e6;
    return {
      kind,
      connectSeconds,
      downMBps: mb / downSeconds,
      upMBps: mb / upSeconds,
      downCpuPerMB: downCpu / mb,
      upCpuPerMB: upCpu / mb,
      peakRssMB,
    };
  } finally {
    try {
      proxy.kill("SIGTERM");
    } catch { /* exited */ }
    const t = setTimeout(() => {
      try {
        proxy.kill("SIGKILL");
      } catch { /* exited */ }
    }, 10_000);
    await proxy.status;
    clearTimeout(t);
    await broker.close();
    await relay.close();
  }
}

const results = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const kind of i % 2 === 0 ? ["ours", "go"] : ["go", "ours"]) results.push(await round(kind));
}
console.log(JSON.stringify(results));
