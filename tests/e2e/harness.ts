/**
 * The end-to-end harness: a private Tor network inside one network namespace, booted once
 * per test process and shared by every e2e test (call {@link torNetwork}).
 *
 * Inside namespace `sfe2e-<pid>` (lo + a veth pair with both ends inside, 10.77.0.1/24 and
 * 10.77.0.2/24, no default route) it runs:
 * - a v3 directory authority made with tor-gencert (also relay + exit), ORPort 5000, DirPort 7000;
 * - two exit relays (ORPort 5001, 5002);
 * - a bridge (ORPort 5003, `ExtORPort auto`, `Log info`) whose ServerTransportPlugin is our
 *   server (server/main.ts --disable-tls) listening on ws://10.77.0.1:8080/;
 * - a local HTTP origin on http://10.77.0.1:8000/ serving a 10 MB random file.
 *
 * Tests start tor clients with {@link TorNetwork.startClient} and run commands inside the
 * namespace with {@link TorNetwork.exec}. Teardown kills only the pids started here, then
 * whatever is left in our own namespace, deletes the namespace and /etc/netns/<ns>; it runs
 * from an `unload` handler and from SIGINT/SIGTERM listeners, so it happens even when a test
 * fails or the run is interrupted. Namespaces `sfe2e-<pid>` whose pid is gone (a crashed run)
 * are removed before a new network boots.
 *
 * Also a CLI for debugging: `deno run -A tests/e2e/harness.ts up` (boots, prints the
 * details, waits for Ctrl-C) and `deno run -A tests/e2e/harness.ts down <ns>`.
 *
 * Set SFE2E_KEEP=1 to keep the work directory (logs) after teardown.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";

export const DENO = Deno.execPath();
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const NS_PREFIX = "sfe2e-";
/** The namespace's two addresses (veth ends sfe0 and sfe1). */
export const IP = "10.77.0.1";
export const IP2 = "10.77.0.2";
export const ORIGIN_PORT = 8000;
export const SNOWFLAKE_PORT = 8080;
export const FILE_SIZE = 10 * 1000 * 1000;

const AUTH_ORPORT = 5000;
const AUTH_DIRPORT = 7000;
const BRIDGE_ORPORT = 5003;

/** True when namespaces can be created here. */
export const CAN_RUN = Deno.build.os === "linux" && Deno.uid() === 0 &&
  ["/usr/sbin/tor", "/usr/bin/tor", "/usr/bin/tor-gencert"].some(exists);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
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

function killSync(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  // A zombie still has /proc/<pid>; its state is Z.
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Removes namespace `ns` and everything in it: kills the processes inside it (only that
 * namespace's), deletes it and /etc/netns/<ns>. Tolerates any part being already gone.
 */
export function downSync(ns: string, pids: number[] = []): void {
  if (!ns.startsWith(NS_PREFIX)) throw new TypeError(`refusing to remove namespace ${ns}`);
  const nsPids = () =>
    runSync("ip", ["netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
  const targets = [...pids, ...nsPids()];
  for (const p of targets) killSync(p, "SIGTERM");
  for (let i = 0; i < 30 && [...pids, ...nsPids()].some(alive); i++) sleepSync(100);
  for (const p of [...pids, ...nsPids()]) if (alive(p)) killSync(p, "SIGKILL");
  for (let i = 0; i < 20 && nsPids().some(alive); i++) sleepSync(50);
  runSync("ip", ["netns", "del", ns]);
  try {
    Deno.removeSync(`/etc/netns/${ns}`, { recursive: true });
  } catch { /* not there */ }
}

/** Removes `sfe2e-<pid>` namespaces whose test process no longer exists. */
export function sweepStale(): void {
  for (const line of runSync("ip", ["netns", "list"]).stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = /^sfe2e-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === Deno.pid) continue;
    let owner = false;
    try {
      owner = /deno/.test(Deno.readTextFileSync(`/proc/${m[1]}/cmdline`));
    } catch { /* gone */ }
    if (owner) continue;
    progress(`removing stale namespace ${name}`);
    downSync(name);
  }
}

/** A long-running process started by the harness. */
export class Proc {
  readonly status: Promise<Deno.CommandStatus>;
  exited = false;
  constructor(readonly name: string, readonly child: Deno.ChildProcess) {
    this.status = child.status.then((s) => {
      this.exited = true;
      return s;
    });
    child.unref();
  }
  get pid(): number {
    return this.child.pid;
  }
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    killSync(this.pid, "SIGTERM");
    const t = setTimeout(() => killSync(this.pid, "SIGKILL"), graceMs);
    await this.status;
    clearTimeout(t);
  }
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
  /** Log at info level too (info.log). */
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

/** The booted network. Get it with {@link torNetwork}. */
export class TorNetwork {
  readonly ns: string;
  readonly dir: string;
  bridgeFingerprint = "";
  /** sha256 (hex) of the origin's file. */
  fileSha256 = "";
  /** Seconds from starting the tors to a consensus listing all three relays. */
  consensusSeconds = 0;
  #procs: Proc[] = [];
  #nextClient = 0;
  #downed = false;
  #onUnload = () => this.downSync();
  #onSignal = () => {
    this.downSync();
    Deno.exit(130);
  };

  constructor(ns: string, dir: string) {
    this.ns = ns;
    this.dir = dir;
  }

  /** The file's URL at the local origin. */
  get fileUrl(): string {
    return `http://${IP}:${ORIGIN_PORT}/file.bin`;
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
   * and net domains, where tor 0.4.9 logs ExtORPort USERADDR and "Seen client ... with
   * transport").
   */
  bridgeLog(which: "notice" | "info" | "extor" = "info"): string {
    return readOr(`${this.dir}/bridge/${which}.log`);
  }
  /** Our server's log (the bridge's ServerTransportPlugin). */
  serverLog(): string {
    try {
      return Deno.readTextFileSync(`${this.dir}/bridge/snowflake-server.log`);
    } catch {
      return "";
    }
  }

  /** Runs a command inside the namespace to completion. */
  exec(cmd: string[], stdin?: string): Promise<ExecResult> {
    return run("ip", ["netns", "exec", this.ns, ...cmd], stdin);
  }

  /** Starts a long-running command inside the namespace, output to `<dir>/<name>.out`. */
  spawn(name: string, cmd: string[], cwd = ROOT): Proc {
    const out = Deno.openSync(`${this.dir}/${name}.out`, { write: true, create: true });
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns, ...cmd],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Copy both streams to one file; the file is closed once both end.
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
    const proc = new Proc(name, child);
    this.#procs.push(proc);
    return proc;
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
    const r = await this.exec([
      "curl",
      "-sS",
      "--max-time",
      "120",
      "--socks5-hostname",
      `127.0.0.1:${client.socksPort}`,
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
    const n = this.#nextClient++;
    const name = `client${n}`;
    const dir = `${this.dir}/${name}`;
    const socksPort = 9050 + n;
    await Deno.mkdir(dir, { mode: 0o700 });
    const lines = [
      ...this.#common(name, options.logInfo ?? false),
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
    const stop = async () => {
      await proc.stop();
    };
    try {
      await waitFor(
        () => /Bootstrapped 100%/.test(noticeLog()),
        options.timeoutMs ?? 120_000,
        () => proc.exited ? `tor ${name} exited` : null,
      );
    } catch (e) {
      const tail = noticeLog().split("\n").slice(-15).join("\n");
      await stop();
      throw new Error(`${(e as Error).message}; ${name} notice.log ends:\n${tail}`);
    }
    const bootstrapSeconds = (performance.now() - t0) / 1000;
    progress(`${name}: Bootstrapped 100% after ${bootstrapSeconds.toFixed(1)} s`);
    return { name, dir, socksPort, proc, bootstrapSeconds, noticeLog, stop };
  }

  /** Boots the network: namespace, keys, torrcs, origin, tors, then waits for the consensus. */
  async up(): Promise<void> {
    const t0 = performance.now();
    globalThis.addEventListener("unload", this.#onUnload);
    Deno.addSignalListener("SIGINT", this.#onSignal);
    Deno.addSignalListener("SIGTERM", this.#onSignal);
    const ns = this.ns;
    await must("ip", ["netns", "add", ns]);
    await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
    await must("ip", ["-n", ns, "link", "add", "sfe0", "type", "veth", "peer", "name", "sfe1"]);
    await must("ip", ["-n", ns, "addr", "add", `${IP}/24`, "dev", "sfe0"]);
    await must("ip", ["-n", ns, "addr", "add", `${IP2}/24`, "dev", "sfe1"]);
    await must("ip", ["-n", ns, "link", "set", "sfe0", "up"]);
    await must("ip", ["-n", ns, "link", "set", "sfe1", "up"]);
    await Deno.mkdir(`/etc/netns/${ns}`, { recursive: true });
    await Deno.writeTextFile(`/etc/netns/${ns}/hosts`, "127.0.0.1 localhost\n");

    await this.#writeOrigin();
    await this.#writeTorConfigs();
    this.spawn("origin", [
      DENO,
      "run",
      "--allow-net",
      "--allow-read",
      `${ROOT}/tests/e2e/origin.ts`,
      `${this.dir}/www`,
      IP,
      String(ORIGIN_PORT),
    ]);
    const tStart = performance.now();
    for (const n of ["auth", "relay1", "relay2", "bridge"]) {
      this.spawn(`tor-${n}`, ["tor", "-f", `${this.dir}/${n}/torrc`]);
    }
    progress(`tor network: started in ${this.ns} (${this.dir})`);
    await waitFor(() => this.#consensusRelays() >= 3, 120_000, () => {
      const dead = this.#procs.find((p) => p.exited);
      return dead ? `${dead.name} exited: ${readOr(`${this.dir}/${dead.name}.out`)}` : null;
    });
    this.consensusSeconds = (performance.now() - tStart) / 1000;
    progress(`tor network: consensus after ${this.consensusSeconds.toFixed(0)} s`);
    // Clients get the consensus from the bridge (a directory cache); it must list every relay.
    await waitFor(
      () => routers(readOr(`${this.dir}/bridge/cached-microdesc-consensus`)) >= 3,
      90_000,
    );
    progress(
      `tor network: bridge has the consensus; up in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s`,
    );
  }

  /** Counts routers with the Exit flag in the authority's latest consensus. */
  #consensusRelays(): number {
    const text = readOr(`${this.dir}/auth/cached-consensus`);
    let n = 0;
    let router = false;
    for (const line of text.split("\n")) {
      if (line.startsWith("r ")) router = true;
      else if (router && line.startsWith("s ")) {
        if (/\bExit\b/.test(line) && /\bRunning\b/.test(line)) n++;
        router = false;
      }
    }
    return n;
  }

  async #writeOrigin(): Promise<void> {
    const data = new Uint8Array(FILE_SIZE);
    for (let off = 0; off < data.length; off += 65536) {
      crypto.getRandomValues(data.subarray(off, off + 65536));
    }
    await Deno.mkdir(`${this.dir}/www`);
    await Deno.writeFile(`${this.dir}/www/file.bin`, data);
    this.fileSha256 = await sha256Hex(data);
  }

  #common(name: string, info: boolean): string[] {
    const d = this.dir;
    return [
      "TestingTorNetwork 1",
      `DataDirectory ${d}/${name}`,
      `Nickname ${name}`,
      "RunAsDaemon 0",
      "SafeLogging 0",
      `Log notice file ${d}/${name}/notice.log`,
      ...(info ? [`Log info file ${d}/${name}/info.log`] : []),
      `DirAuthority auth orport=${AUTH_ORPORT} no-v2 v3ident=${this.#v3ident} 127.0.0.1:${AUTH_DIRPORT} ${this.#authFp}`,
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

  #v3ident = "";
  #authFp = "";

  async #writeTorConfigs(): Promise<void> {
    const d = this.dir;
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
    this.#v3ident = /^fingerprint (\S+)/m.exec(cert)?.[1] ?? "";
    if (!this.#v3ident) throw new SyntaxError("no fingerprint in authority_certificate");
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
    const [authFp, , , bridgeFp] = await Promise.all([
      fp("auth", AUTH_ORPORT),
      fp("relay1", 5001),
      fp("relay2", 5002),
      fp("bridge", BRIDGE_ORPORT),
    ]);
    this.#authFp = authFp!;
    this.bridgeFingerprint = bridgeFp!;

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
      Deno.writeTextFile(`${d}/${name}/torrc`, lines.join("\n") + "\n");
    await write("auth", [
      ...this.#common("auth", false),
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
    await write("relay1", [...this.#common("relay1", false), ...relay(5001)]);
    await write("relay2", [...this.#common("relay2", false), ...relay(5002)]);
    const server = [
      DENO,
      ...runArgs("server").slice(0, -1),
      `${ROOT}/server/main.ts`,
      "--disable-tls",
      "--unsafe-logging",
      "--log",
      `${d}/bridge/snowflake-server.log`,
    ];
    await write("bridge", [
      ...this.#common("bridge", true),
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
      `ServerTransportPlugin snowflake exec ${server.join(" ")}`,
      `ServerTransportListenAddr snowflake ${IP}:${SNOWFLAKE_PORT}`,
    ]);
  }

  /** Stops every process started here and removes the namespace. Idempotent. */
  async down(): Promise<void> {
    if (this.#downed) return;
    await Promise.all(this.#procs.map((p) => p.stop()));
    this.downSync();
  }

  /** Synchronous teardown (for unload and signal handlers). Idempotent. */
  downSync(): void {
    if (this.#downed) return;
    this.#downed = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    try {
      Deno.removeSignalListener("SIGINT", this.#onSignal);
      Deno.removeSignalListener("SIGTERM", this.#onSignal);
    } catch { /* not added */ }
    downSync(this.ns, this.#procs.filter((p) => !p.exited).map((p) => p.pid));
    if (Deno.env.get("SFE2E_KEEP") === "1") {
      progress(`tor network: down; logs kept in ${this.dir}`);
      return;
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch { /* gone */ }
    progress("tor network: down");
  }
}

function routers(consensus: string): number {
  return consensus.split("\n").filter((l) => l.startsWith("r ")).length;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
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

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A `ClientTransportPlugin`/`ServerTransportPlugin` exec value running a Deno script. */
export function denoExec(entry: string, flags: string[], args: string[] = []): string {
  return ["exec", DENO, "run", ...flags, `${ROOT}/${entry}`, ...args].join(" ");
}

let shared: Promise<TorNetwork> | null = null;

/**
 * The network shared by every e2e test of this process, booted on first call. If booting
 * fails, it is torn down and every call rejects with the same error.
 */
export function torNetwork(): Promise<TorNetwork> {
  if (!shared) {
    shared = (async () => {
      sweepStale();
      const ns = `${NS_PREFIX}${Deno.pid}`;
      downSync(ns);
      const dir = await Deno.makeTempDir({ prefix: `${ns}.` });
      const net = new TorNetwork(ns, dir);
      try {
        await net.up();
      } catch (e) {
        net.downSync();
        throw e;
      }
      return net;
    })();
  }
  return shared;
}

if (import.meta.main) {
  const [cmd, name] = Deno.args;
  if (cmd === "down" && name) {
    downSync(name);
  } else if (cmd === "up") {
    const net = await torNetwork();
    console.log(`namespace ${net.ns}, dir ${net.dir}`);
    console.log(`bridge ${net.bridgeFingerprint}; server ${net.serverUrl}; file ${net.fileUrl}`);
    console.log("Ctrl-C to stop");
    await new Promise(() => {});
  } else {
    console.error("usage: harness.ts up | down <namespace>");
    Deno.exit(2);
  }
}
