/**
 * The real chain with tor (tests/e2e/harness.ts): tor with our client as its PT → our
 * broker → proxies → our server (the bridge's PT) → the private Tor network.
 *
 * The harness's namespace holds tor, the bridge with our server (ws://10.77.0.1:8080/) and
 * the origin; this adds our broker there (http://10.77.0.1:8000/) and a proxy namespace
 * joined to it by its own veth pair (198.18.40.1 ↔ 198.18.40.2, plus a route to 10.77.0.0/24),
 * so that WebRTC between the client and the proxies crosses a veth with non-private
 * addresses, and the proxies reach the bridge as `snowflake.test`.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { DENO, denoExec, type TorNetwork } from "../e2e/harness.ts";
import { BINARIES } from "../../tools/permissions.ts";
import { must, NsProc, ROOT, spawnInNs } from "./netns.ts";

const LINK_A = "198.18.40.1";
const LINK_B = "198.18.40.2";
const LINK_A2 = "198.18.40.3";
const HARNESS_IP = "10.77.0.1";
/** The harness's origin has 8000. */
const BROKER_PORT = 8100;
export const RELAY = "ws://snowflake.test:8080/";

const rooted = (args: string[]) =>
  args.map((a) => (/^[a-z]+\/main\.ts$/.test(a) ? `${ROOT}/${a}` : a));

/** Broker and proxy namespace around a booted Tor network. */
export class TorChain {
  readonly procs: NsProc[] = [];
  #proxies = 0;
  private constructor(readonly net: TorNetwork, readonly proxyNs: string, readonly dir: string) {}

  get brokerUrl(): string {
    return `http://${HARNESS_IP}:${BROKER_PORT}/`;
  }
  get stunUrl(): string {
    return `stun:${LINK_A}:3478`;
  }

  static async start(net: TorNetwork): Promise<TorChain> {
    const proxyNs = `sfclient-${Deno.pid}-px`;
    const dir = await Deno.makeTempDir({ prefix: `${proxyNs}-` });
    const chain = new TorChain(net, proxyNs, dir);
    await must("ip", ["netns", "add", proxyNs]);
    try {
      await must("ip", ["-n", proxyNs, "link", "set", "lo", "up"]);
      await must("ip", [
        "-n",
        net.ns,
        "link",
        "add",
        "sfcx",
        "type",
        "veth",
        "peer",
        "name",
        "sfcy",
        "netns",
        proxyNs,
      ]);
      await must("ip", ["-n", net.ns, "addr", "add", `${LINK_A}/24`, "dev", "sfcx"]);
      await must("ip", ["-n", net.ns, "addr", "add", `${LINK_A2}/24`, "dev", "sfcx"]);
      await must("ip", ["-n", net.ns, "link", "set", "sfcx", "up"]);
      await must("ip", ["-n", proxyNs, "addr", "add", `${LINK_B}/24`, "dev", "sfcy"]);
      await must("ip", ["-n", proxyNs, "link", "set", "sfcy", "up"]);
      await must("ip", ["-n", proxyNs, "route", "add", "10.77.0.0/24", "via", LINK_A]);
      await Deno.mkdir(`/etc/netns/${proxyNs}`, { recursive: true });
      await Deno.writeTextFile(
        `/etc/netns/${proxyNs}/hosts`,
        `127.0.0.1 localhost\n${HARNESS_IP} snowflake.test\n`,
      );
      await Deno.writeTextFile(
        `${dir}/bridges.jsonl`,
        JSON.stringify({
          displayName: "e2e",
          webSocketAddress: RELAY,
          fingerprint: net.bridgeFingerprint,
        }) + "\n",
      );
      chain.#spawn(net.ns, "coturn", [
        "turnserver",
        "-n",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--stun-only",
        "--listening-ip",
        LINK_A,
        "--listening-ip",
        LINK_A2,
        "--listening-port",
        "3478",
        "--log-file",
        "stdout",
        "--simple-log",
        "--pidfile",
        `${dir}/coturn.pid`,
        "--db",
        `${dir}/turndb`,
      ]);
      chain.#spawn(net.ns, "broker", [
        DENO,
        ...rooted(runArgs("broker-proxy", [
          "broker",
          "--addr",
          `${HARNESS_IP}:${BROKER_PORT}`,
          "--disable-tls",
          "--bridge-list-path",
          `${dir}/bridges.jsonl`,
          "--allowed-relay-pattern",
          "snowflake.test$",
          "--log",
          `${dir}/broker-safe.log`,
        ])),
      ]);
      for (let i = 0; i < 150; i++) {
        const r = await net.exec(["bash", "-c", `exec 3<>/dev/tcp/${HARNESS_IP}/${BROKER_PORT}`]);
        if (r.code === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (e) {
      await chain.stop();
      throw e;
    }
    return chain;
  }

  #spawn(ns: string, name: string, cmd: string[]): NsProc {
    const p = spawnInNs(ns, name, cmd, this.dir);
    this.procs.push(p);
    return p;
  }

  /** Debian's Go snowflake-proxy in the proxy namespace. */
  debianProxy(): NsProc {
    return this.#spawn(this.proxyNs, `go-proxy${this.#proxies++}`, [
      "snowflake-proxy",
      "-broker",
      this.brokerUrl,
      "-relay",
      RELAY,
      "-allow-non-tls-relay",
      "-allowed-relay-hostname-pattern",
      "snowflake.test$",
      "-stun",
      this.stunUrl,
      "-summary-interval",
      "1h",
    ]);
  }

  /** Our proxy in the proxy namespace; its safe log goes to `<name>-safe.log`. */
  ourProxy(): NsProc {
    const name = `our-proxy${this.#proxies++}`;
    return this.#spawn(this.proxyNs, name, [
      DENO,
      ...rooted(runArgs("broker-proxy", [
        "proxy",
        "-broker",
        this.brokerUrl,
        "-relay",
        RELAY,
        "-allow-non-tls-relay",
        "-allowed-relay-hostname-pattern",
        "snowflake.test$",
        "-allow-proxying-to-private-addresses",
        "-stun",
        this.stunUrl,
        "-nat-probe-server",
        `${this.brokerUrl}probe`,
        "-summary-interval",
        "1h",
        "-log",
        `${this.dir}/${name}-safe.log`,
      ])),
    ]);
  }

  /**
   * The proxy whose WebSocket to the bridge has received the most bytes (kernel TCP counters
   * from `ss -tinp` in the proxy namespace): the one carrying the session, and its count.
   */
  async busiestProxy(): Promise<{ proc: NsProc; bytes: number } | null> {
    const out = await must("ip", [
      "netns",
      "exec",
      this.proxyNs,
      "ss",
      "-tinpH",
      "dst",
      `${HARNESS_IP}:8080`,
    ]);
    const lines = out.split("\n");
    let best: { proc: NsProc; bytes: number } | null = null;
    for (let i = 0; i < lines.length; i++) {
      const pid = Number(/pid=(\d+)/.exec(lines[i]!)?.[1] ?? 0);
      const bytes = Number(/bytes_received:(\d+)/.exec(lines[i + 1] ?? "")?.[1] ?? 0);
      const proc = this.procs.find((p) => p.pid === pid);
      if (proc && (!best || bytes > best.bytes)) best = { proc, bytes };
    }
    return best;
  }

  /** The `ClientTransportPlugin` value running our client with the given log file. */
  clientPlugin(log: string, extra: string[] = []): string {
    return `snowflake ${
      denoExec("client/main.ts", BINARIES.client!.flags, [
        "-url",
        this.brokerUrl,
        "-ice",
        this.stunUrl,
        "-log",
        log,
        ...extra,
      ])
    }`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    const pids = await must("ip", ["netns", "pids", this.proxyNs]).catch(() => "");
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    await must("ip", ["-n", this.net.ns, "link", "del", "sfcx"]).catch(() => {});
    await must("ip", ["netns", "del", this.proxyNs]).catch(() => {});
    await Deno.remove(`/etc/netns/${this.proxyNs}`, { recursive: true }).catch(() => {});
    if (Deno.env.get("SFCLIENT_KEEP") !== "1") {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }
}
