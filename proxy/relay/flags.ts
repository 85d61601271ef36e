/**
 * `broker-proxy proxy` flags, named as Go's snowflake-proxy names them; `-flag` works as well as
 * `--flag`, as with Go's flag package (README "Proxy").
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PROXY_DEFAULTS, type ProxyConfig } from "./core.ts";
import { checkRelayPattern, DEFAULT_RELAY_PATTERN } from "./safeguards.ts";
import { parseGoDuration } from "./stats.ts";

export const PROXY_USAGE = `Usage: broker-proxy proxy [OPTIONS]

A Snowflake proxy: polls the broker for clients, answers their WebRTC offers and relays each
client's data channel to the Snowflake server (relay) over WebSocket.

  --broker URL                      broker (default ${PROXY_DEFAULTS.brokerURL})
  --relay URL                       relay when the broker names none (default ${PROXY_DEFAULTS.defaultRelayURL})
  --stun URL[,URL]                  STUN servers (default ${
  PROXY_DEFAULTS.stunURLs.join(",")
}; "" = none)
  --capacity N                      most concurrent clients (default 0 = unlimited)
  --poll-interval D                 how often to poll the broker (default 5s, at least 2s)
  --allowed-relay-hostname-pattern P  relay hosts we carry data to: "suffix$" or "^exact$"
                                    (default ${DEFAULT_RELAY_PATTERN})
  --allow-proxying-to-private-addresses  relay to private, loopback and link-local addresses
  --allow-non-tls-relay             relay over plain ws:// (testing only)
  --keep-local-addresses            keep local LAN ICE candidates in answers
  --ephemeral-ports-range MIN:MAX   UDP ports for client connections
  --nat-probe-server URL            NAT probe (default ${PROXY_DEFAULTS.natProbeURL})
  --nat-retest-interval D           re-probe the NAT this often; 0s = never (default 24h)
  --summary-interval D              log a summary this often; 0s = never (default 1h)
  --metrics                         serve Prometheus metrics at /metrics
  --metrics-address HOST            metrics listen address (default localhost)
  --metrics-port N                  metrics port (default 9999)
  --log FILE                        log file (default stderr)
  --unsafe-logging                  keep IP addresses in the log
  --verbose                         log every poll
  --version                         print the version to stderr and exit
Durations are Go's: 500ms, 30s, 5m, 24h, 1h30m.`;

/** Parsed flags: the core's config plus what only the binary uses. */
export interface ProxyFlags {
  config: ProxyConfig;
  metrics?: { hostname: string; port: number };
  log?: string;
  unsafeLogging: boolean;
  verbose: boolean;
  version: boolean;
  help: boolean;
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new RangeError(`${flag}: bad port ${text}`);
  return n;
}

/** Parses `--ephemeral-ports-range MIN:MAX`. */
export function parsePortRange(text: string): { min: number; max: number } {
  const parts = text.split(":");
  if (parts.length !== 2) throw new SyntaxError(`bad port range format: ${text}`);
  const min = port(parts[0]!, "--ephemeral-ports-range");
  const max = port(parts[1]!, "--ephemeral-ports-range");
  if (min > max) throw new RangeError("invalid port range: min > max");
  return { min, max };
}

/** Parses the proxy's argv (after `proxy`). Throws SyntaxError/RangeError on a bad flag. */
export function parseProxyFlags(argv: string[]): ProxyFlags {
  const args = argv.map((a) => (/^-[a-z]/.test(a) ? "-" + a : a));
  const { values: v } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      broker: { type: "string" },
      relay: { type: "string" },
      stun: { type: "string" },
      capacity: { type: "string" },
      "poll-interval": { type: "string" },
      "allowed-relay-hostname-pattern": { type: "string" },
      "allow-proxying-to-private-addresses": { type: "boolean" },
      "allow-non-tls-relay": { type: "boolean" },
      "keep-local-addresses": { type: "boolean" },
      "ephemeral-ports-range": { type: "string" },
      "nat-probe-server": { type: "string" },
      "nat-retest-interval": { type: "string" },
      "summary-interval": { type: "string" },
      metrics: { type: "boolean" },
      "metrics-address": { type: "string" },
      "metrics-port": { type: "string" },
      log: { type: "string" },
      "unsafe-logging": { type: "boolean" },
      verbose: { type: "boolean" },
      version: { type: "boolean" },
      help: { type: "boolean" },
      h: { type: "boolean" }, // -h, rewritten to --h like every Go-style flag
    },
  });
  const capacity = Number(v.capacity ?? "0");
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw new RangeError(`--capacity ${v.capacity} is not a whole number ≥ 0`);
  }
  const pollIntervalMs = parseGoDuration(v["poll-interval"] ?? "5s");
  if (pollIntervalMs < 2000) throw new RangeError("--poll-interval must be >= 2s");
  const pattern = v["allowed-relay-hostname-pattern"] ?? DEFAULT_RELAY_PATTERN;
  checkRelayPattern(pattern);
  for (
    const [flag, url] of [["--broker", v.broker], ["--nat-probe-server", v["nat-probe-server"]]]
  ) {
    if (url !== undefined && !URL.canParse(url)) throw new SyntaxError(`${flag}: bad URL ${url}`);
  }
  const config: ProxyConfig = {
    ...PROXY_DEFAULTS,
    stunURLs: v.stun === undefined
      ? [...PROXY_DEFAULTS.stunURLs]
      : v.stun.split(",").filter((s) => s !== ""),
    brokerURL: v.broker ?? PROXY_DEFAULTS.brokerURL,
    defaultRelayURL: v.relay ?? PROXY_DEFAULTS.defaultRelayURL,
    capacity,
    pollIntervalMs,
    policy: {
      allowedHostPattern: pattern,
      allowPrivateAddresses: v["allow-proxying-to-private-addresses"] ?? false,
      allowNonTLS: v["allow-non-tls-relay"] ?? false,
    },
    keepLocalAddresses: v["keep-local-addresses"] ?? false,
    natProbeURL: v["nat-probe-server"] ?? PROXY_DEFAULTS.natProbeURL,
    natRetestIntervalMs: parseGoDuration(v["nat-retest-interval"] ?? "24h"),
    summaryIntervalMs: parseGoDuration(v["summary-interval"] ?? "1h"),
  };
  if (v["ephemeral-ports-range"]) config.portRange = parsePortRange(v["ephemeral-ports-range"]);
  return {
    config,
    metrics: v.metrics
      ? {
        hostname: v["metrics-address"] ?? "localhost",
        port: port(v["metrics-port"] ?? "9999", "--metrics-port"),
      }
      : undefined,
    log: v.log,
    unsafeLogging: v["unsafe-logging"] ?? false,
    verbose: v.verbose ?? false,
    version: v.version ?? false,
    help: (v.help || v.h) ?? false,
  };
}
