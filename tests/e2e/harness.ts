/**
 * The end-to-end harness: a private Tor network inside one network namespace, booted once
 * per test process and shared by every e2e test file (call {@link torNetwork}).
 *
 * Inside namespace `sfe2e-<pid>` (lo + a veth pair with both ends inside, 10.77.0.1/24 and
 * 10.77.0.2/24, no default route) it runs:
 * - a v3 directory authority made with tor-gencert (also relay + exit), ORPort 5000, DirPort 7000;
 * - two exit relays (ORPort 5001, 5002);
 * - a bridge (ORPort 5003, `ExtORPort auto`, `Log info`) whose ServerTransportPlugin is our
 *   server (server/main.ts --disable-tls) with two transports: snowflake on
 *   ws://10.77.0.1:8080/ and sctp on UDP 10.77.0.1:9899;
 * - a local HTTP origin on http://10.77.0.1:8000/ serving a 10 MB random file;
 * - a STUN server (coturn, `--stun-only`) on udp 10.77.0.1:3478 and 10.77.0.2:3478;
 * - our broker (`broker-proxy broker`) on http://10.77.0.1:8081/, whose bridge list maps the
 *   bridge's fingerprint to our server, and a second instance serving only the NAT probe on
 *   https://snowflake-broker.torproject.net:8443/probe (the URL Debian's snowflake-proxy 2.5.1
 *   hard-codes; /etc/netns/<ns>/hosts points the name at 10.77.0.1, and the self-signed
 *   certificate is `probeCert`, for SSL_CERT_FILE).
 *
 * `deno test` gives every test file its own isolate, so a module-level singleton would boot
 * once per file. Instead the first {@link torNetwork} call of a process takes a lock
 * (`/tmp/sfe2e-<pid>.lock`) and starts a small daemon (this file, `daemon <pid>`) that
 * boots the network, publishes its details in `/tmp/sfe2e-<pid>/state.json`, and tears it
 * all down when the test process exits (it polls the pid) or on SIGINT/SIGTERM. Every later
 * call, from any file, reads that state. Tor clients started by tests belong to the test
 * process: they are stopped by the test, by an `unload` handler, and at the latest by the
 * daemon's teardown, which kills whatever is left in its own namespace, deletes the
 * namespace and /etc/netns/<ns>. Leftovers of crashed runs (`sfe2e-<pid>` with a dead pid)
 * are removed before a new network boots.
 *
 * CLI for debugging: `deno run -A tests/e2e/harness.ts up` (boots, prints the details,
 * Ctrl-C stops) and `deno run -A tests/e2e/harness.ts down <ns>`.
 * Set SFE2E_KEEP=1 to keep the work directory (all logs) after teardown.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { randomBytes, sha256Hex, within } from "../../lib/testing/util.ts";
import { sleep } from "../../lib/net/sleep.ts";

export const DENO = Deno.execPath();
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const NS_PREFIX = "sfe2e-";
/** The namespace's two addresses (veth ends sfe0 and sfe1). */
export const IP = "10.77.0.1";
export const IP2 = "10.77.0.2";
export const ORIGIN_PORT = 8000;
export const SNOWFLAKE_PORT = 8080;
/** The bridge's sctp transport: UDP encapsulation (and SCTP) port on {@link IP}. */
export const SCTP_PORT = 9899;
export const FILE_SIZE = 10 * 1000 * 1000;
export const BROKER_PORT = 8081;
/**
 * Bridges in our broker's list besides the tor bridge, for tests that run their own relay
 * target (e.g. a standalone server); a client selects one with `fingerprint=`.
 */
export const EXTRA_BRIDGES = {
  interop: { name: "interop", port: 8090, fingerprint: "0000000000000000000000000000000000008090" },
  recorder: {
    name: "recorder",
    port: 8091,
    fingerprint: "0000000000000000000000000000000000008091",
  },
} as const;
/**
 * Names for AMP cache tests: a client told `-url http://<broker>/ -ampcache
 * http://<cache>:<port>/` fetches `http://<brokerOnCache>:<port>/c/<broker>/amp/client/...`
 * (the AMP cache URL rewriting); /etc/netns/<ns>/hosts maps `brokerOnCache` to 10.77.0.1,
 * where a test runs a stand-in cache that forwards to our broker.
 */
export const AMP_CACHE = {
  broker: "broker.amp.test",
  cache: "cache.amp.test",
  brokerOnCache: "broker-amp-test.cache.amp.test",
  port: 8093,
} as const;
/** coturn's STUN port on both addresses (`stunUrl`). */
export const STUN_PORT = 3478;
/** The NAT probe's host and port, as Debian's snowflake-proxy 2.5.1 hard-codes them. */
export const PROBE_HOST = "snowflake-broker.torproject.net";
export const PROBE_PORT = 8443;

const AUTH_ORPORT = 5000;
const AUTH_DIRPORT = 7000;
const BRIDGE_ORPORT = 5003;
const BOOT_TIMEOUT_MS = 240_000;
/** How long {@link Proc.stop} waits for an exit after SIGKILL. */
const KILL_WAIT_MS = 10_000;

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when namespaces can be created here (Linux, root, tor installed). */
export const CAN_RUN = Deno.build.os === "linux" && Deno.uid() === 0 &&
  ["/usr/sbin/tor", "/usr/bin/tor"].some(exists) && exists("/usr/bin/tor-gencert");

/** CAN_RUN, and Debian's Go snowflake-client and snowflake-proxy are installed. */
export const CAN_RUN_GO = CAN_RUN &&
  ["/usr/bin/snowflake-client", "/usr/bin/snowflake-proxy"].every(exists);

/** The last `n` lines of a log, for assertion messages. */
export const tail = (text: string, n = 15) => text.split("\n").slice(-n).join("\n");

const decoder = new TextDecoder();
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export function progress(message: string): void {
  console.error(`[e2e] ${message}`);
}

/** Result of a finished command. */
export interface ExecResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function run(cmd: string, args: string[], stdin?: string): Promise<ExecResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: decoder.decode(out.stderr) };
}

async function must(cmd: string, args: string[], stdin?: string): Promise<string> {
  const r = await run(cmd, args, stdin);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return decoder.decode(r.stdout);
}

function runSync(cmd: string, args: string[]): { code: number; stdout: string } {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
    return { code: out.code, stdout: decoder.decode(out.stdout) };
  } catch {
    return { code: -1, stdout: "" };
  }
}

function killSync(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch { /* gone */ }
}

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/** A file's text, or "" when it cannot be read. */
export function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function removeSync(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* gone */ }
}

/** SIGTERM, up to 3 s grace, then SIGKILL for whatever of `pids()` is still alive. */
function terminateSync(pids: () => number[]): void {
  for (const p of pids()) killSync(p, "SIGTERM");
  for (let i = 0; i < 30 && pids().some(alive); i++) sleepSync(100);
  for (const p of pids()) if (alive(p)) killSync(p, "SIGKILL");
  for (let i = 0; i < 20 && pids().some(alive); i++) sleepSync(50);
}

/**
 * Removes namespace `ns` and everything in it: kills `pids` and the processes inside it
 * (only that namespace's), deletes it and /etc/netns/<ns>. Tolerates any part being gone.
 */
export function downSync(ns: string, pids: number[] = []): void {
  if (!ns.startsWith(NS_PREFIX)) throw new TypeError(`refusing to remove namespace ${ns}`);
  const nsPids = () =>
    runSync("ip", ["netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
  terminateSync(() => [...pids, ...nsPids()]);
  runSync("ip", ["netns", "del", ns]);
  removeSync(`/etc/netns/${ns}`);
}

function isDenoPid(pid: number): boolean {
  return /deno/.test(readOr(`/proc/${pid}/cmdline`));
}

/** Removes namespaces, work directories and locks of `sfe2e-<pid>` whose pid is gone. */
export function sweepStale(): void {
  const names = new Set<string>();
  for (const line of runSync("ip", ["netns", "list"]).stdout.split("\n")) {
    names.add(line.split(" ")[0] ?? "");
  }
  for (const e of Deno.readDirSync("/tmp")) names.add(e.name.replace(/\.lock$/, ""));
  for (const name of names) {
    const m = /^sfe2e-(\d+)$/.exec(name);
    if (!m || isDenoPid(Number(m[1]))) continue;
    progress(`removing leftovers of ${name}`);
    downSync(name);
    removeSync(`/tmp/${name}`);
    removeSync(`/tmp/${name}.lock`);
  }
}

/** A long-running process started by the harness. */
export class Proc {
  readonly status: Promise<Deno.CommandStatus>;
  exited = false;
  /** `out`: the file its stdout and stderr go to. */
  constructor(readonly name: string, readonly child: Deno.ChildProcess, readonly out: string) {
    this.status = child.status.then((s) => {
      this.exited = true;
      return s;
    });
    child.unref();
  }
  get pid(): number {
    return this.child.pid;
  }
  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves once it exited, or fails if it still did
   * not {@link KILL_WAIT_MS} after the SIGKILL. The child is unref'd: its exit alone does not
   * keep the event loop alive, the deadline's timer does.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    killSync(this.pid, "SIGTERM");
    const kill = setTimeout(() => {
      progress(`${this.name} still runs ${graceMs / 1000} s after SIGTERM: SIGKILL`);
      killSync(this.pid, "SIGKILL");
    }, graceMs);
    const exited = await within(this.status.then(() => true), graceMs + KILL_WAIT_MS, false);
    clearTimeout(kill);
    if (!exited) {
      throw new Error(
        `${this.name} (pid ${this.pid}) did not exit ${KILL_WAIT_MS / 1000} s after SIGKILL; ` +
          `${this.out} ends:\n${tail(readOr(this.out))}`,
      );
    }
  }
}

/** Processes this isolate started; an `unload` handler kills those still running. */
const started: Proc[] = [];
let unloadHooked = false;

/** Starts `cmd` inside namespace `ns`, stdout and stderr to `<dir>/<name>.out`. */
function spawnIn(ns: string, dir: string, name: string, cmd: string[]): Proc {
  if (!unloadHooked) {
    unloadHooked = true;
    globalThis.addEventListener("unload", () => {
      terminateSync(() => started.filter((p) => !p.exited).map((p) => p.pid));
    });
  }
  const out = Deno.openSync(`${dir}/${name}.out`, { write: true, create: true, append: true });
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const copy = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) {
      let off = 0;
      while (off < chunk.length) off += out.writeSync(chunk.subarray(off));
    }
  };
  Promise.all([copy(child.stdout), copy(child.stderr)]).catch(() => {}).finally(() => {
    try {
      out.close();
    } catch { /* closed */ }
  });
  const proc = new Proc(name, child, `${dir}/${name}.out`);
  started.push(proc);
  return proc;
}

/** Polls `ok` every 250 ms until true; fails early when `failed` returns a reason. */
export async function waitFor(
  ok: () => boolean,
  timeoutMs: number,
  failed: () => string | null = () => null,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    const why = failed();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** A `ClientTransportPlugin`/`ServerTransportPlugin` exec value running a Deno script. */
export function denoExec(entry: string, flags: string[], args: string[] = []): string {
  return ["exec", DENO, "run", ...flags, `${ROOT}/${entry}`, ...args].join(" ");
}

/** What the daemon publishes in state.json. */
interface NetworkState {
  ns: string;
  dir: string;
  dirAuthority: string;
  bridgeFingerprint: string;
  fileSha256: string;
  consensusSeconds: number;
  upSeconds: number;
  error?: string;
}

/** torrc lines every tor of the network shares. */
function commonTorrc(state: Pick<NetworkState, "dir" | "dirAuthority">, name: string): string[] {
  const d = state.dir;
  return [
    "TestingTorNetwork 1",
    `DataDirectory ${d}/${name}`,
    `Nickname ${name}`,
    "RunAsDaemon 0",
    "SafeLogging 0",
    `Log notice file ${d}/${name}/notice.log`,
    `DirAuthority ${state.dirAuthority}`,
    "AssumeReachable 1",
    "ShutdownWaitLength 0",
    "TestingDirAuthVoteExit *",
    "TestingDirAuthVoteGuard *",
    "TestingDirAuthVoteHSDir *",
    "TestingMinExitFlagThreshold 0",
    "V3AuthNIntervalsValid 2",
    "PathsNeededToBuildCircuits 0.25",
    "TestingClientDownloadInitialDelay 0",
    "TestingClientConsensusDownloadInitialDelay 0",
    "TestingServerDownloadInitialDelay 0",
    "TestingServerConsensusDownloadInitialDelay 0",
    "TestingBridgeDownloadInitialDelay 0",
    "TestingBridgeBootstrapDownloadInitialDelay 0",
  ];
}

/** Options for {@link TorNetwork.startClient}. */
export interface ClientOptions {
  /** The `Bridge` line value, e.g. `snowflake 192.0.2.3:80 <FP>`. */
  bridge: string;
  /** The `ClientTransportPlugin` line value, e.g. `snowflake exec /path/to/pt args`. */
  transportPlugin?: string;
  /** More torrc lines. */
  torrc?: string[];
  /** Give up waiting for "Bootstrapped 100%" after this long. Default 120 s. */
  timeoutMs?: number;
  /** Also log at info level (info.log in the client's directory). */
  logInfo?: boolean;
}

/** A running tor client inside the namespace. */
export interface TorClient {
  readonly name: string;
  readonly dir: string;
  readonly socksPort: number;
  readonly proc: Proc;
  /** Seconds from start to "Bootstrapped 100%". */
  readonly bootstrapSeconds: number;
  noticeLog(): string;
  stop(): Promise<void>;
}

/** The booted network, as seen by a test. Get it with {@link torNetwork}. */
export class TorNetwork {
  readonly ns: string;
  /** Work directory: keys, torrcs, logs of every tor, the origin's file. */
  readonly dir: string;
  readonly bridgeFingerprint: string;
  /** sha256 (hex) of the origin's file. */
  readonly fileSha256: string;
  /** Seconds from starting the tors to a consensus with all three relays. */
  readonly consensusSeconds: number;
  /** Seconds the whole boot took. */
  readonly upSeconds: number;
  #state: NetworkState;

  constructor(state: NetworkState) {
    this.#state = state;
    this.ns = state.ns;
    this.dir = state.dir;
    this.bridgeFingerprint = state.bridgeFingerprint;
    this.fileSha256 = state.fileSha256;
    this.consensusSeconds = state.consensusSeconds;
    this.upSeconds = state.upSeconds;
  }

  /** torrc lines every tor of this network shares, for a tor named `name` (its data dir). */
  torrc(name: string): string[] {
    return commonTorrc(this.#state, name);
  }

  /** The 10 MB file's URL at the local origin. */
  get fileUrl(): string {
    return `http://${IP}:${ORIGIN_PORT}/file.bin`;
  }
  /** Our broker's rendezvous URL (plain HTTP inside the namespace). */
  get brokerUrl(): string {
    return `http://${IP}:${BROKER_PORT}/`;
  }
  /** The namespace's STUN server. */
  get stunUrl(): string {
    return `stun:${IP}:${STUN_PORT}`;
  }
  /** The self-signed certificate of the NAT probe (for SSL_CERT_FILE). */
  get probeCert(): string {
    return `${this.dir}/probe.crt`;
  }
  /** The log of our broker (`broker`) or of the probe instance (`probe`). */
  brokerLog(which: "broker" | "probe" = "broker"): string {
    return readOr(`${this.dir}/${which}.log`);
  }
  /** Our broker's /debug page, fetched inside the namespace. */
  async brokerDebug(): Promise<string> {
    const r = await this.exec(["curl", "-sS", "--max-time", "5", this.brokerUrl + "debug"]);
    return new TextDecoder().decode(r.stdout);
  }

  /**
   * Starts Debian's snowflake-proxy inside the namespace against our broker and server, with
   * our probe's certificate trusted; its log is `<dir>/<name>.log`.
   */
  startGoProxy(name = "go-proxy", extraArgs: string[] = []): Proc {
    return this.spawn(name, [
      "env",
      `SSL_CERT_FILE=${this.probeCert}`,
      "snowflake-proxy",
      "-broker",
      this.brokerUrl,
      "-relay",
      this.serverUrl,
      "-allow-non-tls-relay",
      "-allowed-relay-hostname-pattern",
      `^${IP}$`,
      "-keep-local-addresses",
      "-stun",
      this.stunUrl,
      "-verbose",
      "-unsafe-logging",
      // "0s" does not disable summaries in 2.5.1: it busy-logs.
      "-summary-interval",
      "1h",
      "-log",
      `${this.dir}/${name}.log`,
      ...extraArgs,
    ]);
  }

  /** Waits until our broker has `n` waiting proxies with NAT `nat`. */
  async waitForBrokerProxies(
    nat: "restricted" | "unrestricted" | "unknown",
    n = 1,
    timeoutMs = 60_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const re = new RegExp(`\\t${nat}: (\\d+)`);
    for (;;) {
      const count = Number(re.exec(await this.brokerDebug())?.[1] ?? 0);
      if (count >= n) return;
      if (Date.now() > deadline) throw new Error(`broker never had ${n} ${nat} proxies waiting`);
      await sleep(500);
    }
  }

  /** The `ClientTransportPlugin` value running Debian's snowflake-client against our broker. */
  goClientTransportPlugin(logPath: string, extraArgs: string[] = []): string {
    return [
      "snowflake exec /usr/bin/snowflake-client",
      "-url",
      this.brokerUrl,
      // 2.5.1 fails with "unknown scheme type" without a valid -ice.
      "-ice",
      this.stunUrl,
      "-keep-local-addresses",
      "-unsafe-logging",
      "-log",
      logPath,
      ...extraArgs,
    ].join(" ");
  }

  /** ws:// URL of our server (the bridge's snowflake transport). */
  get serverUrl(): string {
    return `ws://${IP}:${SNOWFLAKE_PORT}/`;
  }
  /** A `Bridge` line for a pluggable transport: any address, the bridge's fingerprint. */
  bridgeLine(transport = "snowflake"): string {
    const fp = this.bridgeFingerprint;
    return `${transport} 192.0.2.3:80 ${fp} fingerprint=${fp}`;
  }
  /** A `Bridge` line to the bridge's plain ORPort (no transport). */
  plainBridgeLine(): string {
    return `127.0.0.1:${BRIDGE_ORPORT} ${this.bridgeFingerprint}`;
  }
  /**
   * One of the bridge's tor logs: `notice`, `info`, or `extor` (debug level of the general
   * and net domains only, where tor 0.4.9 logs the ExtORPort USERADDR and "Seen client from
   * '…' with transport '…'").
   */
  bridgeLog(which: "notice" | "info" | "extor" = "info"): string {
    return readOr(`${this.dir}/bridge/${which}.log`);
  }
  /** Our server's log (the bridge's ServerTransportPlugin). */
  serverLog(): string {
    return readOr(`${this.dir}/bridge/snowflake-server.log`);
  }

  /** Runs a command inside the namespace to completion. */
  exec(cmd: string[], stdin?: string): Promise<ExecResult> {
    return run("ip", ["netns", "exec", this.ns, ...cmd], stdin);
  }

  /** Starts a long-running command inside the namespace, output to `<dir>/<name>.out`. */
  spawn(name: string, cmd: string[]): Proc {
    return spawnIn(this.ns, this.dir, name, cmd);
  }

  /**
   * Fetches `url` through a client's SocksPort with curl (inside the namespace) into
   * `<dir>/<outName>`; returns the file's size and sha256.
   */
  async curl(
    client: TorClient,
    url: string,
    outName: string,
  ): Promise<{ bytes: number; sha256: string; seconds: number }> {
    const path = `${this.dir}/${outName}`;
    const t0 = performance.now();
    const socks = `127.0.0.1:${client.socksPort}`;
    const r = await this.exec([
      "curl",
      "-sS",
      "--max-time",
      "120",
      "--socks5-hostname",
      socks,
      "-o",
      path,
      url,
    ]);
    const seconds = (performance.now() - t0) / 1000;
    if (r.code !== 0) {
      throw new Error(`curl ${url} via ${client.name} exited ${r.code}: ${r.stderr}`);
    }
    const data = await Deno.readFile(path);
    return { bytes: data.length, sha256: await sha256Hex(data), seconds };
  }

  /** Starts a tor client inside the namespace and waits for "Bootstrapped 100%". */
  async startClient(options: ClientOptions): Promise<TorClient> {
    // Client numbers are claimed with an atomic mkdir: several test files share the network.
    let n = 0;
    for (;; n++) {
      try {
        Deno.mkdirSync(`${this.dir}/client${n}`, { mode: 0o700 });
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
    const name = `client${n}`;
    const dir = `${this.dir}/${name}`;
    const socksPort = 9050 + n;
    const lines = [
      ...commonTorrc(this.#state, name),
      ...(options.logInfo ? [`Log info file ${dir}/info.log`] : []),
      `SocksPort 127.0.0.1:${socksPort}`,
      "UseBridges 1",
      `Bridge ${options.bridge}`,
      ...(options.transportPlugin ? [`ClientTransportPlugin ${options.transportPlugin}`] : []),
      ...(options.torrc ?? []),
    ];
    await Deno.writeTextFile(`${dir}/torrc`, lines.join("\n") + "\n");
    const t0 = performance.now();
    const proc = this.spawn(`tor-${name}`, ["tor", "-f", `${dir}/torrc`]);
    const noticeLog = () => readOr(`${dir}/notice.log`);
    const stop = () => proc.stop();
    try {
      await waitFor(
        () => /Bootstrapped 100%/.test(noticeLog()),
        options.timeoutMs ?? 120_000,
        () => proc.exited ? `tor ${name} exited` : null,
      );
    } catch (e) {
      const tail = noticeLog().split("\n").slice(-15).join("\n");
      await stop();
      throw new Error(`${name}: ${(e as Error).message}; notice.log ends:\n${tail}`);
    }
    const bootstrapSeconds = (performance.now() - t0) / 1000;
    progress(`${name}: Bootstrapped 100% after ${bootstrapSeconds.toFixed(1)} s`);
    return { name, dir, socksPort, proc, bootstrapSeconds, noticeLog, stop };
  }
}

// ---------------------------------------------------------------------------------------
// The daemon: boots the network, publishes state.json, tears down when the owner exits.

/** Boots everything in `ns` with work directory `dir`; returns the state to publish. */
async function boot(ns: string, dir: string): Promise<NetworkState> {
  const t0 = performance.now();
  await must("ip", ["netns", "add", ns]);
  await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
  await must("ip", ["-n", ns, "link", "add", "sfe0", "type", "veth", "peer", "name", "sfe1"]);
  await must("ip", ["-n", ns, "addr", "add", `${IP}/24`, "dev", "sfe0"]);
  await must("ip", ["-n", ns, "addr", "add", `${IP2}/24`, "dev", "sfe1"]);
  await must("ip", ["-n", ns, "link", "set", "sfe0", "up"]);
  await must("ip", ["-n", ns, "link", "set", "sfe1", "up"]);
  await Deno.mkdir(`/etc/netns/${ns}`, { recursive: true });
  await Deno.writeTextFile(
    `/etc/netns/${ns}/hosts`,
    `127.0.0.1 localhost\n${IP} ${PROBE_HOST}\n${IP} ${AMP_CACHE.brokerOnCache}\n`,
  );

  // The origin's file.
  const data = randomBytes(FILE_SIZE);
  await Deno.mkdir(`${dir}/www`);
  await Deno.writeFile(`${dir}/www/file.bin`, data);
  const fileSha256 = await sha256Hex(data);

  const { dirAuthority, bridgeFingerprint } = await writeTorConfigs(dir);
  const procs = [
    spawnIn(ns, dir, "origin", [
      DENO,
      "run",
      "--allow-net",
      "--allow-read",
      `${ROOT}/tests/e2e/origin.ts`,
      `${dir}/www`,
      IP,
      String(ORIGIN_PORT),
    ]),
  ];
  const tStart = performance.now();
  for (const n of ["auth", "relay1", "relay2", "bridge"]) {
    procs.push(spawnIn(ns, dir, `tor-${n}`, ["tor", "-f", `${dir}/${n}/torrc`]));
  }
  progress(`tor network: started in ${ns} (${dir})`);
  procs.push(...await startBrokers(ns, dir, bridgeFingerprint));
  // A STUN server (coturn, both addresses, RFC 5780 capable) for the WebRTC peers: without
  // one, Debian's snowflake-proxy spends ~5 s gathering ICE before each answer, as long as
  // the broker waits for it.
  procs.push(spawnIn(ns, dir, "stun", [
    "turnserver",
    "-n",
    "--stun-only",
    "--no-tls",
    "--no-dtls",
    "--no-cli",
    "-L",
    IP,
    "-L",
    IP2,
    "-p",
    String(STUN_PORT),
    "--userdb",
    `${dir}/turndb`,
    "--log-file",
    "stdout",
    "--simple-log",
  ]));
  const dead = () => {
    const p = procs.find((p) => p.exited);
    return p ? `${p.name} exited: ${readOr(`${dir}/${p.name}.out`).slice(-2000)}` : null;
  };
  await waitFor(() => exitRelays(readOr(`${dir}/auth/cached-consensus`)) >= 3, 120_000, dead);
  const consensusSeconds = (performance.now() - tStart) / 1000;
  progress(`tor network: consensus after ${consensusSeconds.toFixed(0)} s`);
  // Clients get the consensus from the bridge (a directory cache); it must list every relay.
  await waitFor(
    () => routers(readOr(`${dir}/bridge/cached-microdesc-consensus`)) >= 3,
    90_000,
    dead,
  );
  const upSeconds = (performance.now() - t0) / 1000;
  progress(`tor network: bridge has the consensus; up in ${upSeconds.toFixed(0)} s`);
  return { ns, dir, dirAuthority, bridgeFingerprint, fileSha256, consensusSeconds, upSeconds };
}

/**
 * Starts our broker (plain HTTP, rendezvous) and a probe-only instance (TLS with a self-signed
 * certificate for {@link PROBE_HOST}); resolves once both listen.
 */
async function startBrokers(ns: string, dir: string, bridgeFingerprint: string): Promise<Proc[]> {
  await must("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${PROBE_HOST}`,
    "-addext",
    `subjectAltName=DNS:${PROBE_HOST}`,
    // Not a CA: rustls (Deno's fetch, our proxy) refuses a CA certificate as the server's own.
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-keyout",
    `${dir}/probe.key`,
    "-out",
    `${dir}/probe.crt`,
  ]);
  const bridges = {
    displayName: "e2e",
    webSocketAddress: `ws://${IP}:${SNOWFLAKE_PORT}/`,
    fingerprint: bridgeFingerprint,
  };
  const extra = Object.values(EXTRA_BRIDGES).map((b) => ({
    displayName: b.name,
    webSocketAddress: `ws://${IP}:${b.port}/`,
    fingerprint: b.fingerprint,
  }));
  await Deno.writeTextFile(
    `${dir}/bridges.jsonl`,
    [bridges, ...extra].map((b) => JSON.stringify(b) + "\n").join(""),
  );
  const common = [
    "--bridge-list-path",
    `${dir}/bridges.jsonl`,
    "--allowed-relay-pattern",
    `^${IP}$`,
    "--unsafe-logging",
  ];
  const broker = (name: string, args: string[]) =>
    spawnIn(ns, dir, name, [
      DENO,
      ...runArgs("broker-proxy", ["broker", ...common, ...args, "--log", `${dir}/${name}.log`])
        .map((a) => (a === "proxy/main.ts" ? `${ROOT}/proxy/main.ts` : a)),
    ]);
  const procs = [
    broker("broker", ["--disable-tls", "--addr", `${IP}:${BROKER_PORT}`, "--disable-probe"]),
    broker("probe", [
      "--cert",
      `${dir}/probe.crt`,
      "--key",
      `${dir}/probe.key`,
      "--addr",
      `${IP}:${PROBE_PORT}`,
    ]),
  ];
  for (const p of procs) {
    await waitFor(
      () => /listening on/.test(readOr(`${dir}/${p.name}.log`)),
      60_000,
      () =>
        p.exited
          ? `${p.name} exited: ${readOr(`${dir}/${p.name}.out`)}${readOr(`${dir}/${p.name}.log`)}`
          : null,
    );
  }
  progress(
    `brokers: rendezvous on http://${IP}:${BROKER_PORT}/, probe on https://${PROBE_HOST}:${PROBE_PORT}/probe`,
  );
  return procs;
}

function routers(consensus: string): number {
  return consensus.split("\n").filter((l) => l.startsWith("r ")).length;
}

/** Routers flagged Exit and Running in a consensus. */
function exitRelays(consensus: string): number {
  let n = 0;
  let router = false;
  for (const line of consensus.split("\n")) {
    if (line.startsWith("r ")) router = true;
    else if (router && line.startsWith("s ")) {
      if (/\bExit\b/.test(line) && /\bRunning\b/.test(line)) n++;
      router = false;
    }
  }
  return n;
}

async function writeTorConfigs(
  d: string,
): Promise<{ dirAuthority: string; bridgeFingerprint: string }> {
  for (const n of ["auth", "relay1", "relay2", "bridge"]) {
    await Deno.mkdir(`${d}/${n}`, { mode: 0o700 });
  }
  await Deno.mkdir(`${d}/auth/keys`, { mode: 0o700 });
  await must("tor-gencert", [
    "--create-identity-key",
    "-m",
    "12",
    "-a",
    `127.0.0.1:${AUTH_DIRPORT}`,
    "-i",
    `${d}/auth/keys/authority_identity_key`,
    "-s",
    `${d}/auth/keys/authority_signing_key`,
    "-c",
    `${d}/auth/keys/authority_certificate`,
    "--passphrase-fd",
    "0",
  ], "\n");
  const cert = await Deno.readTextFile(`${d}/auth/keys/authority_certificate`);
  const v3ident = /^fingerprint (\S+)/m.exec(cert)?.[1];
  if (!v3ident) throw new SyntaxError("no fingerprint in authority_certificate");
  await Deno.writeTextFile(`${d}/empty`, "");
  const fp = async (name: string, orport: number) => {
    const out = await must("tor", [
      "--quiet",
      "-f",
      `${d}/empty`,
      "--list-fingerprint",
      "--DataDirectory",
      `${d}/${name}`,
      "--Nickname",
      name,
      "--ORPort",
      String(orport),
    ]);
    const f = out.trim().split("\n").pop()!.split(" ").slice(1).join("");
    if (!/^[0-9A-F]{40}$/.test(f)) throw new SyntaxError(`bad fingerprint for ${name}: ${out}`);
    return f;
  };
  const [authFp, , , bridgeFingerprint] = await Promise.all([
    fp("auth", AUTH_ORPORT),
    fp("relay1", 5001),
    fp("relay2", 5002),
    fp("bridge", BRIDGE_ORPORT),
  ]);
  const state = {
    dir: d,
    dirAuthority:
      `auth orport=${AUTH_ORPORT} no-v2 v3ident=${v3ident} 127.0.0.1:${AUTH_DIRPORT} ${authFp}`,
  };
  const relay = (orport: number) => [
    "SocksPort 0",
    `ORPort ${orport}`,
    "Address 127.0.0.1",
    "ContactInfo e2e@localnet",
    "ExitRelay 1",
    "ExitPolicy accept *:*",
    "ExitPolicyRejectPrivate 0",
    "ExitPolicyRejectLocalInterfaces 0",
  ];
  const write = (name: string, lines: string[]) =>
    Deno.writeTextFile(`${d}/${name}/torrc`, [...commonTorrc(state, name), ...lines].join("\n"));
  await write("auth", [
    ...relay(AUTH_ORPORT),
    `DirPort ${AUTH_DIRPORT}`,
    "AuthoritativeDirectory 1",
    "V3AuthoritativeDirectory 1",
    "V3AuthVotingInterval 20",
    "V3AuthVoteDelay 4",
    "V3AuthDistDelay 4",
    "TestingV3AuthInitialVotingInterval 20",
    "TestingV3AuthInitialVoteDelay 4",
    "TestingV3AuthInitialDistDelay 4",
  ]);
  await write("relay1", relay(5001));
  await write("relay2", relay(5002));
  const serverArgs = runArgs("server", [
    "--disable-tls",
    "--unsafe-logging",
    "--log",
    `${d}/bridge/snowflake-server.log`,
  ]).map((a) => (a === "server/main.ts" ? `${ROOT}/server/main.ts` : a));
  await write("bridge", [
    `Log info file ${d}/bridge/info.log`,
    // tor 0.4.9 logs the ExtORPort USERADDR and the client's transport at debug level only.
    `Log [general,net]debug file ${d}/bridge/extor.log`,
    "SocksPort 0",
    "BridgeRelay 1",
    "BridgeDistribution none",
    "PublishServerDescriptor 0",
    `ORPort ${BRIDGE_ORPORT}`,
    "Address 127.0.0.1",
    "ContactInfo e2e@localnet",
    "ExtORPort auto",
    `ServerTransportPlugin snowflake,sctp exec ${DENO} ${serverArgs.join(" ")}`,
    `ServerTransportListenAddr snowflake ${IP}:${SNOWFLAKE_PORT}`,
    `ServerTransportListenAddr sctp ${IP}:${SCTP_PORT}`,
  ]);
  return { dirAuthority: state.dirAuthority, bridgeFingerprint };
}

/**
 * The daemon's main: boots the network of test process `owner`, writes state.json (or the
 * error), then tears everything down once `owner` exits or on SIGINT/SIGTERM.
 */
async function daemon(owner: number): Promise<void> {
  const ns = `${NS_PREFIX}${owner}`;
  const dir = `/tmp/${ns}`;
  let downed = false;
  const teardown = () => {
    if (downed) return;
    downed = true;
    downSync(ns, started.filter((p) => !p.exited).map((p) => p.pid));
    if (Deno.env.get("SFE2E_KEEP") === "1") progress(`tor network: down; logs kept in ${dir}`);
    else removeSync(dir);
    removeSync(`${dir}.lock`);
    if (Deno.env.get("SFE2E_KEEP") !== "1") progress("tor network: down");
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      teardown();
      Deno.exit(130);
    });
  }
  // Watch the owner from the start: it may die while the network is still booting.
  setInterval(() => {
    if (alive(owner)) return;
    teardown();
    Deno.exit(0);
  }, 500);
  sweepStale();
  downSync(ns);
  removeSync(dir);
  await Deno.mkdir(dir, { mode: 0o755 });
  let state: NetworkState;
  try {
    state = await boot(ns, dir);
  } catch (e) {
    progress(`tor network: boot failed: ${(e as Error).message}`);
    downSync(ns, started.filter((p) => !p.exited).map((p) => p.pid));
    state = { ns, dir, error: (e as Error).message } as NetworkState;
  }
  await Deno.writeTextFile(`${dir}/state.json.tmp`, JSON.stringify(state));
  await Deno.rename(`${dir}/state.json.tmp`, `${dir}/state.json`);
}

let shared: Promise<TorNetwork> | null = null;

/**
 * The network shared by every e2e test of this process (all files), booted on first call.
 * If booting failed, every call rejects with the same error.
 */
export function torNetwork(): Promise<TorNetwork> {
  shared ??= (async () => {
    const dir = `/tmp/${NS_PREFIX}${Deno.pid}`;
    let owner = false;
    try {
      Deno.mkdirSync(`${dir}.lock`);
      owner = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    let daemonExited = false;
    if (owner) {
      removeSync(dir);
      const child = new Deno.Command(DENO, {
        args: ["run", "-A", `${ROOT}/tests/e2e/harness.ts`, "daemon", String(Deno.pid)],
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      child.unref();
      child.status.then(() => (daemonExited = true));
    }
    await waitFor(
      () => exists(`${dir}/state.json`),
      BOOT_TIMEOUT_MS,
      () => daemonExited && !exists(`${dir}/state.json`) ? "the harness daemon exited" : null,
    );
    const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as NetworkState;
    if (state.error) throw new Error(`tor network failed to boot: ${state.error}`);
    return new TorNetwork(state);
  })();
  return shared;
}

if (import.meta.main) {
  const [cmd, arg] = Deno.args;
  if (cmd === "daemon" && arg) {
    await daemon(Number(arg));
  } else if (cmd === "down" && arg) {
    downSync(arg);
  } else if (cmd === "up") {
    const net = await torNetwork();
    console.log(`namespace ${net.ns}, dir ${net.dir}`);
    console.log(`bridge ${net.bridgeFingerprint}; server ${net.serverUrl}; file ${net.fileUrl}`);
    console.log("Ctrl-C to stop");
    await new Promise(() => {});
  } else {
    console.error("usage: harness.ts up | down <namespace> | daemon <owner pid>");
    Deno.exit(2);
  }
}
