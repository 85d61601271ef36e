/**
 * The whole Snowflake chain without tor, for the client's tests and benchmarks. Two
 * namespaces joined by a veth pair (tests/client/netns.ts):
 *
 * - `a` (198.18.S.1, and .3 for coturn's second address): our broker (http :8000), our
 *   server (ws://snowflake.test:8080/, its "ORPort" a dante SOCKS5 server on 127.0.0.1:1080),
 *   an HTTP origin (:8001, a random file), coturn (STUN with RFC 5780 on :3478), and the
 *   clients under test;
 * - `b` (198.18.S.2): the proxies, Debian's snowflake-proxy or ours.
 *
 * WebRTC crosses the veth (client in `a`, proxy in `b`), and so does the proxy's WebSocket
 * to the server. In standalone mode the client replays each SOCKS request to dante at the
 * far end, so curl reaches the origin through every hop.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { DEFAULT_BRIDGE_FINGERPRINT } from "../../lib/snowflake/messages.ts";
import { sha256Hex } from "../../lib/testing/util.ts";
import { DENO, NsPair, type NsProc, ROOT, waitUntil } from "./netns.ts";

export const RELAY_HOST = "snowflake.test";
export const BROKER_PORT = 8000;
export const ORIGIN_PORT = 8001;
export const SERVER_PORT = 8080;
export const DANTE_PORT = 1080;

/** Debian's dante in namespace A on 127.0.0.1:DANTE_PORT, leaving through A's veth address. */
export async function startDante(net: NsPair, dir: string): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/sockd.conf`,
    [
      "logoutput: stderr",
      `internal: 127.0.0.1 port = ${DANTE_PORT}`,
      `external: ${net.ipA}`,
      "clientmethod: none",
      "socksmethod: none",
      "user.privileged: root",
      "user.unprivileged: nobody",
      "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }",
      "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }",
      "",
    ].join("\n"),
  );
  net.spawn(net.a, "dante", ["danted", "-f", `${dir}/sockd.conf`, "-N", "1"]);
}

const rooted = (args: string[]) =>
  args.map((a) => (/^[a-z]+\/main\.ts$/.test(a) ? `${ROOT}/${a}` : a));

/**
 * One client at a time per proxy: a proxy that takes every client (both kinds' default) may
 * be matched with all of one session's requests (the broker's pool for an unrestricted client
 * starts with the proxies of unknown NAT type, Debian's here), and killing it would then kill
 * every path at once.
 */
export const ONE_CLIENT = ["-capacity", "1"];

/** What tests/client/socks_fetch.ts measured. */
export interface FetchResult {
  bytes: number;
  sha256: string;
  firstByteSeconds: number;
  /** When the HTTP request went out (after the SOCKS handshakes), and the last byte came. */
  requestSeconds: number;
  lastByteSeconds: number;
  seconds: number;
  longestStall: number;
  histogram: Record<string, number>;
}

/** Options for {@link Chain.start}. */
export interface ChainOptions {
  subnet: number;
  /** Size of the origin's file. Default 10 MB. */
  fileSize?: number;
  /** Also run fauxqs (SQS) on 127.0.0.1:4566 in `a` and have the broker take polls from it. */
  sqs?: boolean;
  /**
   * The SOCKS5 server at the server's "ORPort": Debian's dante (default) or the demo's own
   * (tools/demo_socks.ts, so that `deno task demo --no-tor` needs nothing beyond the project).
   */
  socks?: "dante" | "builtin";
  /** With the built-in SOCKS5 server: pace its replies to this many bytes/s. */
  socksRate?: number;
}

/** The SQS queue the broker reads when the chain runs fauxqs, and credentials for it. */
export const SQS_QUEUE_URL = "http://127.0.0.1:4566/000000000000/snowflake-broker";
export const SQS_CREDS = btoa(
  JSON.stringify({ "aws-access-key-id": "test", "aws-secret-key": "test" }),
);

/** A running chain. */
export class Chain {
  fileSha256 = "";
  #proxies = 0;
  #clients = 0;

  private constructor(readonly net: NsPair, readonly fileSize: number) {}

  get brokerUrl(): string {
    return `http://${this.net.ipA}:${BROKER_PORT}/`;
  }
  get fileUrl(): string {
    return `http://${this.net.ipA}:${ORIGIN_PORT}/file.bin`;
  }
  get stunUrl(): string {
    return `stun:${this.net.ipA}:3478`;
  }
  get relayUrl(): string {
    return `ws://${RELAY_HOST}:${SERVER_PORT}/`;
  }

  /** Boots broker, server, dante, origin and coturn; resolves when they listen. */
  static async start(options: ChainOptions): Promise<Chain> {
    const second = `198.18.${options.subnet}.3`;
    const net = await NsPair.create(options.subnet, [second]);
    const chain = new Chain(net, options.fileSize ?? 10_000_000);
    try {
      await chain.#boot(second, options.sqs ?? false, options.socks ?? "dante", options.socksRate);
    } catch (e) {
      await net.delete(Deno.env.get("SFCLIENT_KEEP") === "1");
      throw e;
    }
    return chain;
  }

  async #boot(
    second: string,
    sqs: boolean,
    socks: "dante" | "builtin",
    socksRate = 0,
  ): Promise<void> {
    const { net } = this;
    const d = net.dir;
    await Deno.writeTextFile(
      `/etc/netns/${net.b}/hosts`,
      `127.0.0.1 localhost\n${net.ipA} ${RELAY_HOST}\n`,
    );
    await Deno.writeTextFile(
      `/etc/netns/${net.a}/hosts`,
      `127.0.0.1 localhost\n${net.ipA} ${RELAY_HOST}\n`,
    );
    const data = new Uint8Array(this.fileSize);
    for (let off = 0; off < data.length; off += 65536) {
      crypto.getRandomValues(data.subarray(off, off + 65536));
    }
    await Deno.mkdir(`${d}/www`);
    await Deno.writeFile(`${d}/www/file.bin`, data);
    this.fileSha256 = await sha256Hex(data);
    await Deno.writeTextFile(
      `${d}/bridges.jsonl`,
      JSON.stringify({
        displayName: "chain",
        webSocketAddress: this.relayUrl,
        fingerprint: DEFAULT_BRIDGE_FINGERPRINT,
      }) + "\n",
    );
    if (socks === "dante") {
      await startDante(net, d);
    } else {
      net.spawn(net.a, "socks", [
        DENO,
        "run",
        "--allow-net",
        `${ROOT}/tools/demo_socks.ts`,
        "127.0.0.1",
        String(DANTE_PORT),
        String(socksRate),
      ]);
    }
    net.spawn(net.a, "origin", [
      DENO,
      "run",
      "--allow-net",
      "--allow-read",
      `${ROOT}/tests/e2e/origin.ts`,
      `${d}/www`,
      net.ipA,
      String(ORIGIN_PORT),
    ]);
    net.spawn(net.a, "coturn", [
      "turnserver",
      "-n",
      "--no-cli",
      "--no-tls",
      "--no-dtls",
      "--stun-only",
      "--listening-ip",
      net.ipA,
      "--listening-ip",
      second,
      "--listening-port",
      "3478",
      "--log-file",
      "stdout",
      "--simple-log",
      "--pidfile",
      `${d}/coturn.pid`,
      "--db",
      `${d}/turndb`,
    ]);
    if (sqs) {
      net.spawn(net.a, "fauxqs", [DENO, "run", "-A", `${ROOT}/node_modules/fauxqs/dist/cli.js`], {
        FAUXQS_PORT: "4566",
        FAUXQS_HOST: "127.0.0.1",
        FAUXQS_LOGGER: "false",
      });
      await waitUntil(() => this.#listening("127.0.0.1", 4566), 30_000);
    }
    const sqsArgs = sqs
      ? [
        "--broker-sqs-name",
        "snowflake-broker",
        "--broker-sqs-region",
        "us-east-1",
        "--broker-sqs-endpoint",
        "http://127.0.0.1:4566",
      ]
      : [];
    net.spawn(net.a, "broker", [
      DENO,
      ...rooted(runArgs("broker-proxy", [
        "broker",
        "--addr",
        `${net.ipA}:${BROKER_PORT}`,
        "--disable-tls",
        "--bridge-list-path",
        `${d}/bridges.jsonl`,
        "--allowed-relay-pattern",
        `${RELAY_HOST}$`,
        "--log",
        `${d}/broker-safe.log`,
        ...sqsArgs,
      ])),
    ], { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" });
    await Deno.mkdir(`${d}/server-state`);
    this.#startServer();
    await net.exec(
      net.b,
      ["nft", "-f", "-"],
      `table inet sfcount {
  chain input { type filter hook input priority 0; tcp sport ${SERVER_PORT} counter; }
}
`,
    );
    for (const port of [DANTE_PORT, ORIGIN_PORT, BROKER_PORT, SERVER_PORT]) {
      const host = port === DANTE_PORT ? "127.0.0.1" : net.ipA;
      await waitUntil(
        () => this.#listening(host, port),
        30_000,
        () =>
          net.procs.find((p) => p.exited)
            ? `${net.procs.find((p) => p.exited)!.name} exited: ${
              net.procs.find((p) => p.exited)!.log().slice(-1500)
            }`
            : null,
      );
    }
  }

  #startServer(): void {
    const { net } = this;
    net.spawn(net.a, "server", [
      DENO,
      ...rooted(runArgs("server", ["--disable-tls", "--log", `${net.dir}/server-safe.log`])),
    ], {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      TOR_PT_MANAGED_TRANSPORT_VER: "1",
      TOR_PT_SERVER_TRANSPORTS: "snowflake",
      TOR_PT_SERVER_BINDADDR: `snowflake-${net.ipA}:${SERVER_PORT}`,
      TOR_PT_ORPORT: `127.0.0.1:${DANTE_PORT}`,
      TOR_PT_STATE_LOCATION: `${net.dir}/server-state`,
    });
  }

  /**
   * Kills the server (SIGKILL: it forgets every ClientID and KCP session) and starts it again;
   * resolves once it listens. Meanwhile the proxies' connections to the server are held (their
   * SYNs dropped, so they connect once it listens) rather than refused: a proxy refused closes
   * the data channel it just opened, as the client writes its first bytes to it, and that is the
   * moment @roamhq/wrtc can crash the client (docs/client.md "What is not done").
   */
  async restartServer(): Promise<void> {
    const { net } = this;
    await net.exec(
      net.b,
      ["nft", "-f", "-"],
      `table inet sfhold {
  chain output { type filter hook output priority 0; tcp dport ${SERVER_PORT} tcp flags & (syn | ack) == syn drop; }
}
`,
    );
    try {
      await net.procs.find((p) => p.name === "server" && !p.exited)?.kill();
      this.#startServer();
      await waitUntil(() => this.#listening(net.ipA, SERVER_PORT), 30_000);
    } finally {
      await net.exec(net.b, ["nft", "delete", "table", "inet", "sfhold"]);
    }
  }

  async #listening(host: string, port: number): Promise<boolean> {
    try {
      await this.net.exec(this.net.a, ["bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** Starts Debian's Go snowflake-proxy in `b`. */
  debianProxy(extra: string[] = []): NsProc {
    const n = this.#proxies++;
    return this.net.spawn(this.net.b, `go-proxy${n}`, [
      "snowflake-proxy",
      "-broker",
      this.brokerUrl,
      "-relay",
      this.relayUrl,
      "-allow-non-tls-relay",
      "-allowed-relay-hostname-pattern",
      `${RELAY_HOST}$`,
      "-stun",
      this.stunUrl,
      "-summary-interval",
      "1h",
      ...extra,
    ]);
  }

  /** Starts our proxy (broker-proxy proxy) in `b`. */
  ourProxy(extra: string[] = []): NsProc {
    const n = this.#proxies++;
    return this.net.spawn(this.net.b, `our-proxy${n}`, [
      DENO,
      ...rooted(runArgs("broker-proxy", [
        "proxy",
        "-broker",
        this.brokerUrl,
        "-relay",
        this.relayUrl,
        "-allow-non-tls-relay",
        "-allowed-relay-hostname-pattern",
        `${RELAY_HOST}$`,
        "-stun",
        this.stunUrl,
        "-summary-interval",
        "1h",
        "-nat-probe-server",
        `${this.brokerUrl}probe`,
        "-log",
        `${this.net.dir}/our-proxy${n}-safe.log`,
        ...extra,
      ])),
    ]);
  }

  /**
   * Starts our client in standalone mode in `a` (with `env`: its environment); resolves with
   * its SOCKS port once it listens.
   */
  async ourClient(
    extra: string[] = [],
    rendezvous: string[] = ["--url", this.brokerUrl],
    env: Record<string, string> = {},
  ): Promise<{ proc: NsProc; port: number; log: string }> {
    const n = this.#clients++;
    const port = 1090 + n;
    const log = `${this.net.dir}/client${n}-safe.log`;
    const proc = this.net.spawn(this.net.a, `client${n}`, [
      DENO,
      ...rooted(runArgs("client", [
        "--socks",
        `127.0.0.1:${port}`,
        ...rendezvous,
        "--ice",
        this.stunUrl,
        "--log",
        log,
        ...extra,
      ])),
    ], env);
    await waitUntil(
      () => this.#listening("127.0.0.1", port),
      30_000,
      () => proc.exited ? `client exited: ${proc.log()}` : null,
    );
    return { proc, port, log };
  }

  /**
   * IP bytes the proxies in `b` have received from the server so far (an nftables counter on
   * TCP from the server's port: payload, WebSocket framing and TCP/IP headers).
   */
  async proxyBytesFromServer(): Promise<number> {
    const out = await this.net.exec(this.net.b, ["nft", "list", "table", "inet", "sfcount"]);
    return Number(/bytes (\d+)/.exec(out)?.[1] ?? 0);
  }

  /** Waits until the broker has at least `n` proxies waiting for a client. */
  async waitForProxies(n = 1, timeoutMs = 60_000): Promise<void> {
    await waitUntil(async () => {
      const page = await this.net.exec(this.net.a, [
        "curl",
        "-sS",
        "--max-time",
        "3",
        `${this.brokerUrl}debug`,
      ])
        .catch(() => "");
      return Number(/snowflakes available: (\d+)/.exec(page)?.[1] ?? 0) >= n;
    }, timeoutMs);
  }

  /**
   * Starts Debian's Go snowflake-client in `a` as tor would (PT environment, `-max` as
   * given); resolves with its SOCKS port once it printed its CMETHOD. Its streams end at the
   * far SOCKS server, so fetch through it with `${port}+inner`.
   */
  goClient(extra: string[] = []): Promise<{ proc: NsProc; port: number; log: string }> {
    return this.#ptClient("go-client", (log) => [
      "snowflake-client",
      ...this.#clientArgs(log),
      ...extra,
    ]);
  }

  /** Starts our client in `a` in PT mode, as tor would: {@link goClient}'s twin. */
  ourPtClient(extra: string[] = []): Promise<{ proc: NsProc; port: number; log: string }> {
    return this.#ptClient("pt-client", (log) => [
      DENO,
      ...rooted(runArgs("client", [...this.#clientArgs(log), ...extra])),
    ]);
  }

  #clientArgs(log: string): string[] {
    return ["-url", this.brokerUrl, "-ice", this.stunUrl, "-log", log];
  }

  async #ptClient(
    kind: string,
    command: (log: string) => string[],
  ): Promise<{ proc: NsProc; port: number; log: string }> {
    const n = this.#clients++;
    const state = `${this.net.dir}/${kind}${n}-state`;
    const log = `${this.net.dir}/${kind}${n}-safe.log`;
    await Deno.mkdir(state);
    const proc = this.net.spawn(this.net.a, `${kind}${n}`, command(log), {
      TOR_PT_MANAGED_TRANSPORT_VER: "1",
      TOR_PT_CLIENT_TRANSPORTS: "snowflake",
      TOR_PT_STATE_LOCATION: state,
    });
    let port = 0;
    await waitUntil(
      () => {
        port = Number(/CMETHOD snowflake socks5 127\.0\.0\.1:(\d+)/.exec(proc.log())?.[1] ?? 0);
        return port > 0;
      },
      30_000,
      () => proc.exited ? `${kind} exited: ${proc.log()}` : null,
    );
    return { proc, port, log };
  }

  /**
   * Fetches the origin's file with curl through a SOCKS port (in `a`); resolves with its
   * size, sha256 and timing. `proto` is curl's SOCKS flag; `proxyUser` (SOCKS5 username, with
   * an empty password) carries bridge arguments as tor does.
   */
  async curl(
    port: number,
    proto: "--socks4" | "--socks4a" | "--socks5-hostname" | "--socks5" = "--socks5-hostname",
    url = this.fileUrl,
    maxTime = 180,
    proxyUser?: string,
  ): Promise<{ bytes: number; sha256: string; seconds: number; firstByteSeconds: number }> {
    const out = `${this.net.dir}/curl-${crypto.randomUUID()}.bin`;
    const t0 = performance.now();
    const r = await this.net.exec(this.net.a, [
      "curl",
      "-sS",
      "--max-time",
      String(maxTime),
      proto,
      `127.0.0.1:${port}`,
      "-o",
      out,
      "-w",
      "%{time_starttransfer}",
      ...(proxyUser === undefined ? [] : ["--proxy-user", `${proxyUser}:`]),
      url,
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const data = await Deno.readFile(out);
    await Deno.remove(out);
    return {
      bytes: data.length,
      sha256: await sha256Hex(data),
      seconds,
      firstByteSeconds: Number(r),
    };
  }

  /**
   * Downloads the origin's file through a SOCKS port with tests/client/socks_fetch.ts (in
   * `a`), optionally paced to `rate` bytes/s; resolves with its measurements.
   */
  async fetch(port: number | string, rate = 0): Promise<FetchResult> {
    const out = await this.net.exec(this.net.a, [
      DENO,
      "run",
      "--allow-net",
      `${ROOT}/tests/client/socks_fetch.ts`,
      String(port),
      this.fileUrl,
      ...(rate ? [String(rate)] : []),
    ]);
    return JSON.parse(out) as FetchResult;
  }

  /**
   * The pid of the proxy in `b` whose WebSocket to the server has received the most bytes:
   * the one carrying the session (read from the kernel's TCP counters with `ss -tinp`).
   */
  async busiestProxyPid(): Promise<number | null> {
    const best = (await this.#serverSockets()).sort((x, y) => y.bytes - x.bytes)[0];
    return best?.pid ?? null;
  }

  /** The pids of the proxies in `b` with a WebSocket to the server: those carrying a session. */
  async carryingProxyPids(): Promise<number[]> {
    return [...new Set((await this.#serverSockets()).map((s) => s.pid))];
  }

  async #serverSockets(): Promise<{ pid: number; bytes: number }[]> {
    const out = await this.net.exec(this.net.b, [
      "ss",
      "-tinpH",
      "dst",
      `${this.net.ipA}:${SERVER_PORT}`,
    ]);
    const sockets: { pid: number; bytes: number }[] = [];
    const lines = out.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const pid = /pid=(\d+)/.exec(lines[i]!)?.[1];
      const info = lines[i + 1] ?? "";
      const bytes = Number(/bytes_received:(\d+)/.exec(info)?.[1] ?? 0);
      if (pid) sockets.push({ pid: Number(pid), bytes });
    }
    return sockets;
  }

  /** Stops everything and deletes the namespaces (keeps logs with SFCLIENT_KEEP=1). */
  stop(): Promise<void> {
    return this.net.delete(Deno.env.get("SFCLIENT_KEEP") === "1");
  }
}
