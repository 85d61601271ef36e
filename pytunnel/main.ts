/**
 * Entry point of the pytunnel binary: a TUN VPN server and client, key tools,
 * a status query, a local web control page and the attack tools that test a
 * server's defences. Run `pytunnel help` for usage.
 *
 * @module
 */

import "../lib/process/no_inspector.ts";
import { parseArgs } from "node:util";
import { programArgs } from "../lib/process/args.ts";
import { TunError } from "../lib/tunnel/tun_linux.ts";
import {
  type ClientConfig,
  ConfigError,
  decodeKey,
  loadConfig,
  parseClientConfig,
  parseServerConfig,
  type ServerConfig,
  type StatusEndpoint,
} from "./config.ts";
import { fetchStatus, requestRoam, toJson } from "./control.ts";
import { encodeKey, floodPayload, generatePrivateKey, isDataPacket, publicKeyOf } from "./core.ts";
import { Instance, type RoleConfig } from "./instance.ts";
import { formatReport, type StatusReport } from "./report.ts";
import { serveUi } from "./ui.ts";
import { checkSpoofCidr, checkTarget } from "./attack/target.ts";
import { flood } from "./attack/flood.ts";
import { runReplayRelay } from "./attack/replay.ts";
import { parseHostPort } from "./ipaddr.ts";

export const VERSION = "0.1.0";

const USAGE = `usage: pytunnel <command> [options]

commands:
  genkey [--out FILE]            print a new private key (or write it to FILE, mode 0600)
  pubkey                         read a private key on stdin, print its public key
  server -c server.yaml          run the server
  client -c client.yaml          run a client (SIGHUP moves it to a new UDP source port)
  status (-c FILE | --socket PATH) [--json]
                                 show peers, handshakes, bytes and drops of a running instance
  roam (-c FILE | --socket PATH) move a running client to a new UDP source port
  ui -c FILE [--role server|client] [--port N] [--start]
                                 local web control page on 127.0.0.1, protected by a token
  attack flood --target IP:PORT --server-key KEY --count N [--spoof-cidr CIDR] [--rate PPS]
                                 spoofed-source handshake initiations (raw socket, needs root);
                                 KEY is the server's public key (initiations carry its mac1)
  attack replay --listen IP:PORT --target IP:PORT [--count N] [--skip N]
                                 relay that replays and tampers captured data packets
  check -c FILE [--role server|client]
                                 validate a configuration file
  version                        print the version (also --version)

common options: --unsafe-logging (keep IP addresses in logs), -h/--help
attack tools only target loopback or private (RFC 1918 / ULA) addresses.`;

/** A usage problem: printed with a hint, exit status 2. */
class UsageError extends Error {}

function die(message: string, code = 1): never {
  console.error(`pytunnel: ${message}`);
  Deno.exit(code);
}

function detectRole(path: string, given?: string): "server" | "client" {
  if (given === "server" || given === "client") return given;
  if (given !== undefined) throw new UsageError(`--role must be server or client, got "${given}"`);
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  return /^(listen_port|peers)\s*:/m.test(text) ? "server" : "client";
}

function loadRole(path: string | undefined, role: "server" | "client"): RoleConfig {
  if (!path) throw new UsageError(`${role} needs -c FILE`);
  return role === "server"
    ? { role, config: loadConfig<ServerConfig>(path, parseServerConfig) }
    : { role, config: loadConfig<ClientConfig>(path, parseClientConfig) };
}

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/**
 * SIGINT/SIGTERM stop cleanly. A terminal's Ctrl-C can arrive twice at once
 * (to the process group, and forwarded by `deno task`): only a repeat a second
 * or more later forces the exit (exit 130) of a stop that hangs.
 */
function onSignals(stop: () => Promise<void>): void {
  let stoppingSince: number | null = null;
  const handler = () => {
    if (stoppingSince !== null) {
      if (Date.now() - stoppingSince >= 1000) Deno.exit(130);
      return;
    }
    stoppingSince = Date.now();
    stop().then(() => Deno.exit(0), (e) => die((e as Error).message));
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
}

/** SIGHUP roams a client (never SIGUSR1: see lib/process/no_inspector.ts); a server ignores it. */
function roamOnSighup(inst: Instance): void {
  Deno.addSignalListener("SIGHUP", () => {
    if (inst.role === "client") inst.rebind();
  });
}

async function runRole(role: "server" | "client", args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, "unsafe-logging": { type: "boolean" } },
  });
  const inst = new Instance(loadRole(values.config, role), {
    unsafeLogging: values["unsafe-logging"],
  });
  await inst.start();
  roamOnSighup(inst);
  onSignals(() => inst.close());
}

function statusEndpoint(values: { config?: string; socket?: string }): StatusEndpoint {
  if (values.socket) return { path: values.socket };
  if (values.config) {
    const rc = loadRole(values.config, detectRole(values.config));
    if (!rc.config.status) {
      throw new ConfigError(`${rc.config.file}: status: not set, so there is nothing to query`);
    }
    return rc.config.status;
  }
  throw new UsageError("needs -c FILE or --socket PATH");
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string", short: "c" },
      socket: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const endpoint = statusEndpoint(values);
  let report: unknown;
  try {
    report = await fetchStatus(endpoint, AbortSignal.timeout(5000));
  } catch (e) {
    die(`no running pytunnel answers on ${endpoint.path}: ${(e as Error).message}`);
  }
  console.log(values.json ? toJson(report, 2) : formatReport(report as StatusReport));
}

async function roam(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, socket: { type: "string" } },
  });
  const endpoint = statusEndpoint(values);
  try {
    console.log(`rebound UDP socket to ${await requestRoam(endpoint, AbortSignal.timeout(5000))}`);
  } catch (e) {
    die(`roam via ${endpoint.path} failed: ${(e as Error).message}`);
  }
}

async function ui(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string", short: "c" },
      role: { type: "string" },
      port: { type: "string" },
      start: { type: "boolean" },
      "unsafe-logging": { type: "boolean" },
    },
  });
  if (!values.config) throw new UsageError("ui needs -c FILE");
  const rc = loadRole(values.config, detectRole(values.config, values.role));
  const inst = new Instance(rc, { unsafeLogging: values["unsafe-logging"] });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be 0 to 65535, got "${values.port}"`);
  }
  const served = await serveUi(inst, { port });
  // The URL (with its token) goes to stdout only, never into the log ring.
  console.log(`pytunnel ui: ${served.url}`);
  console.log(`token: ${served.token}`);
  if (values.start) await inst.start();
  roamOnSighup(inst);
  onSignals(async () => {
    await inst.close();
    await served.server.shutdown();
  });
}

function genkey(args: string[]): void {
  const { values } = parseArgs({ args, options: { out: { type: "string" } } });
  const key = encodeKey(generatePrivateKey());
  if (!values.out) {
    console.log(key);
    return;
  }
  try {
    Deno.writeTextFileSync(values.out, key + "\n", { mode: 0o600, createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) die(`${values.out} exists; not overwriting a key`);
    throw e;
  }
  Deno.chmodSync(values.out, 0o600);
}

async function pubkey(): Promise<void> {
  const key = decodeKey(await readStdin());
  if (!key) die("stdin does not hold a base64 X25519 private key");
  console.log(encodeKey(publicKeyOf(key)));
}

async function attack(args: string[]): Promise<void> {
  const [kind, ...rest] = args;
  if (kind === "flood") {
    const { values } = parseArgs({
      args: rest,
      options: {
        target: { type: "string" },
        "server-key": { type: "string" },
        count: { type: "string", default: "10000" },
        "spoof-cidr": { type: "string", default: "10.200.0.0/16" },
        rate: { type: "string", default: "0" },
      },
    });
    if (!values.target) throw new UsageError("attack flood needs --target IP:PORT");
    if (!values["server-key"]) throw new UsageError("attack flood needs --server-key KEY");
    const serverKey = decodeKey(values["server-key"]);
    if (!serverKey) {
      throw new UsageError(`--server-key "${values["server-key"]}" is not a base64 X25519 key`);
    }
    const target = checkTarget(values.target);
    const count = Number(values.count), rate = Number(values.rate);
    if (!Number.isInteger(count) || count < 1) {
      throw new UsageError(`--count must be a positive integer`);
    }
    if (!(rate >= 0)) throw new UsageError(`--rate must be a number of packets per second`);
    const spoof = checkSpoofCidr(values["spoof-cidr"]);
    const ac = new AbortController();
    Deno.addSignalListener("SIGINT", () => ac.abort());
    Deno.addSignalListener("SIGTERM", () => ac.abort());
    const r = await flood({
      target,
      count,
      spoof,
      rate,
      payload: floodPayload(serverKey),
      signal: ac.signal,
    });
    console.log(toJson({
      sent: r.sent,
      seconds: r.seconds,
      packetsPerSecond: r.packetsPerSecond,
      cpuSeconds: r.cpuSeconds,
    }));
    return;
  }
  if (kind === "replay") {
    const { values } = parseArgs({
      args: rest,
      options: {
        listen: { type: "string" },
        target: { type: "string" },
        count: { type: "string", default: "10" },
        skip: { type: "string", default: "5" },
      },
    });
    if (!values.listen || !values.target) {
      throw new UsageError("attack replay needs --listen IP:PORT and --target IP:PORT");
    }
    const target = checkTarget(values.target);
    let listen: { hostname: string; port: number };
    try {
      listen = parseHostPort(values.listen);
    } catch (e) {
      throw new UsageError(`--listen: ${(e as Error).message}`);
    }
    const count = Number(values.count), skip = Number(values.skip);
    if (!Number.isInteger(count) || count < 1) {
      throw new UsageError(`--count must be a positive integer`);
    }
    if (!Number.isInteger(skip) || skip < 0) throw new UsageError(`--skip must be 0 or more`);
    const ac = new AbortController();
    Deno.addSignalListener("SIGINT", () => ac.abort());
    Deno.addSignalListener("SIGTERM", () => ac.abort());
    console.log(`relaying ${values.listen} -> ${values.target}`);
    const r = await runReplayRelay({
      listen,
      target,
      count,
      skip,
      isData: isDataPacket,
      signal: ac.signal,
      onDone: (res) => console.log(toJson({ done: true, ...res })),
    });
    console.log(toJson(r));
    return;
  }
  throw new UsageError(`attack needs "flood" or "replay", got "${kind ?? ""}"`);
}

function check(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, role: { type: "string" } },
  });
  if (!values.config) throw new UsageError("check needs -c FILE");
  const rc = loadRole(values.config, detectRole(values.config, values.role));
  console.log(`${rc.config.file}: valid ${rc.role} configuration`);
}

/** Runs a command line; errors the user can fix print one line, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "genkey":
        return genkey(rest);
      case "pubkey":
        return await pubkey();
      case "server":
      case "client":
        return await runRole(cmd, rest);
      case "status":
        return await status(rest);
      case "roam":
        return await roam(rest);
      case "ui":
        return await ui(rest);
      case "attack":
        return await attack(rest);
      case "check":
        return check(rest);
      case undefined:
      case "help":
      case "-h":
      case "-help":
      case "--help":
        console.log(USAGE);
        return;
      case "version":
      case "-version":
      case "--version":
        console.log(`pytunnel ${VERSION}`);
        return;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) die(`${e.message}\n${USAGE}`, 2);
    // node:util parseArgs reports unknown or malformed flags with a TypeError code.
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) die((e as Error).message, 2);
    if (
      e instanceof ConfigError || e instanceof TunError || e instanceof RangeError ||
      e instanceof SyntaxError || e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.AddrInUse
    ) {
      die((e as Error).message);
    }
    die(`internal error: ${(e as Error).stack ?? e}`);
  }
}

if (import.meta.main) {
  await main(programArgs());
}
