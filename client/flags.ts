/**
 * The client's command line, compatible with the Go snowflake-client: Go's flag package
 * takes `-flag` and `--flag` alike, `-flag=value` or `-flag value` for strings and numbers,
 * and `-flag` or `-flag=true|false` for booleans; parsing stops at the first non-flag.
 * torrc lines written for the Go binary work unchanged.
 *
 * @module
 */
import { defaultClientConfig, parseMax, splitList } from "../lib/snowflake/client_config.ts";
import type { ClientConfig } from "../lib/snowflake/client_config.ts";

type Kind = "string" | "bool" | "int";

/** Every flag, its kind and help text (also the usage text). */
export const FLAGS: Record<string, { kind: Kind; help: string }> = {
  url: { kind: "string", help: "URL of the signaling broker" },
  front: { kind: "string", help: "front domain (deprecated: use --fronts)" },
  fronts: { kind: "string", help: "comma-separated list of front domains" },
  ampcache: { kind: "string", help: "URL of an AMP cache to reach the broker through" },
  sqsqueue: { kind: "string", help: "URL of an SQS queue to reach the broker through" },
  sqscreds: { kind: "string", help: "credentials for the SQS queue (base64 JSON)" },
  ice: { kind: "string", help: "comma-separated list of ICE servers (stun: only)" },
  max: { kind: "int", help: "number of proxies to keep connected (default 1)" },
  "keep-local-addresses": { kind: "bool", help: "keep LAN and loopback ICE candidates" },
  keepLocalAddresses: { kind: "bool", help: "deprecated spelling of --keep-local-addresses" },
  log: { kind: "string", help: "name of the log file (default: no log)" },
  "log-to-state-dir": { kind: "bool", help: "resolve --log relative to tor's PT state dir" },
  logToStateDir: { kind: "bool", help: "deprecated spelling of --log-to-state-dir" },
  "unsafe-logging": { kind: "bool", help: "keep IP addresses in the log" },
  version: { kind: "bool", help: "print the version to stderr and exit" },
  socks: {
    kind: "string",
    help: "standalone mode: serve SOCKS4/4a/5 on IP:PORT instead of running under tor",
  },
  "impersonate-profile": {
    kind: "string",
    help: "browser TLS profile for rendezvous (chrome, firefox, none); see README",
  },
  "log-stderr": { kind: "bool", help: "also log to stderr (standalone mode logs there anyway)" },
  "sctp-server": {
    kind: "string",
    help: "standalone mode: carry SOCKS over SCTP to the sctp server at IP:PORT (not snowflake)",
  },
};

/** A bad command line; main prints it with the usage and exits 2, like Go. */
export class FlagError extends SyntaxError {
  override name = "FlagError";
}

/** `-h` or `-help`: main prints the usage and exits 0, as Go does. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
}

/** The parsed command line. */
export interface ClientFlags {
  config: ClientConfig;
  log: string;
  logToStateDir: boolean;
  unsafeLogging: boolean;
  version: boolean;
  /** Standalone SOCKS address, or "" for PT mode. */
  socks: string;
  logStderr: boolean;
  /** Standalone mode over the sctp transport: the server's IP:PORT, or "" for snowflake. */
  sctpServer: string;
  /** Arguments after the flags (ignored, as Go does). */
  rest: string[];
}

/** Parses argv into raw flag values; unknown flags and missing values are FlagErrors. */
export function parseRawFlags(argv: readonly string[]): {
  values: Map<string, string>;
  rest: string[];
} {
  const values = new Map<string, string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--" || a === "-") {
      if (a === "--") i++;
      break;
    }
    const m = /^--?([^=-][^=]*)(?:=(.*))?$/s.exec(a);
    if (!m) break;
    const name = m[1]!;
    if (name === "h" || name === "help") throw new HelpRequested();
    const spec = FLAGS[name];
    if (!spec) throw new FlagError(`flag provided but not defined: -${name}`);
    let value = m[2];
    if (spec.kind === "bool") {
      value ??= "true";
      if (!/^(1|0|t|f|true|false|TRUE|FALSE|True|False)$/.test(value)) {
        throw new FlagError(`invalid boolean value ${JSON.stringify(value)} for -${name}`);
      }
      value = /^(1|t|true)$/i.test(value) ? "true" : "false";
    } else if (value === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    values.set(name, value);
  }
  return { values, rest: argv.slice(i) };
}

/** Parses the client's command line into its settings. */
export function parseClientFlags(argv: readonly string[]): ClientFlags {
  const { values, rest } = parseRawFlags(argv);
  const str = (k: string) => values.get(k) ?? "";
  const bool = (k: string) => values.get(k) === "true";
  const config = defaultClientConfig();
  config.brokerUrl = str("url");
  config.ampCacheUrl = str("ampcache");
  config.sqsQueueUrl = str("sqsqueue");
  config.sqsCreds = str("sqscreds");
  config.fronts = splitList(str("fronts"));
  if (config.fronts.length === 0 && str("front") !== "") config.fronts = [str("front")];
  config.ice = splitList(str("ice"));
  if (values.has("max")) {
    try {
      config.max = parseMax(str("max"));
    } catch {
      throw new FlagError(`invalid value ${JSON.stringify(str("max"))} for flag -max`);
    }
  }
  config.keepLocalAddresses = bool("keep-local-addresses") || bool("keepLocalAddresses");
  const profile = str("impersonate-profile");
  if (profile !== "" && !["chrome", "firefox", "none"].includes(profile)) {
    throw new FlagError(`--impersonate-profile must be chrome, firefox or none, not ${profile}`);
  }
  config.utlsImitate = profile === "none" ? "" : profile;
  return {
    config,
    log: str("log"),
    logToStateDir: bool("log-to-state-dir") || bool("logToStateDir"),
    unsafeLogging: bool("unsafe-logging"),
    version: bool("version"),
    socks: str("socks"),
    logStderr: bool("log-stderr"),
    sctpServer: str("sctp-server"),
    rest,
  };
}

/** The usage text, in Go's format. */
export function usage(): string {
  const lines = ["Usage of snowflake-client:"];
  for (const [name, { kind, help }] of Object.entries(FLAGS)) {
    lines.push(`  -${name}${kind === "bool" ? "" : ` ${kind}`}`, `    \t${help}`);
  }
  return lines.join("\n");
}
