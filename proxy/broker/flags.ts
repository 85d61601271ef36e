/**
 * `broker-proxy broker` flags, modelled on the Go broker's (README "Broker"). Go's flag
 * package takes `-flag` and `--flag` alike, and so do we.
 *
 * @module
 */
import { parseArgs } from "node:util";

export const BROKER_USAGE = `Usage: broker-proxy broker [OPTIONS]

The Snowflake broker: matches clients with proxies. TLS comes from ACME (--acme-hostnames),
a certificate file (--cert and --key), or is disabled (--disable-tls).

  --addr ADDR                   address to listen on (default :443)
  --acme-hostnames H1,H2        comma-separated hostnames for the TLS certificate
  --acme-email EMAIL            optional contact email for Let's Encrypt notifications
  --acme-cert-cache DIR         directory in which certificates are cached (default acme-cert-cache)
  --acme-directory-url URL      ACME directory (default Let's Encrypt production)
  --acme-ca-cert FILE           the only CA to trust for the ACME server (testing with pebble)
  --acme-http-port PORT         port of the HTTP-01 listener (default 80)
  --cert FILE, --key FILE       TLS certificate and private key files
  --disable-tls                 don't use HTTPS
  --bridge-list-path FILE       bridge list: one {"displayName","webSocketAddress","fingerprint"} a line
  --allowed-relay-pattern P     relay hosts of this broker's bridges (e.g. snowflake.torproject.net$);
                                proxies whose accepted pattern does not cover it are refused
  --default-relay-pattern P     pattern assumed for proxies that send none
  --broker-sqs-name NAME        SQS queue to take client polls from
  --broker-sqs-region REGION    AWS region of that queue
  --broker-sqs-endpoint URL     SQS-compatible endpoint instead of AWS's
  --probe-addr ADDR             also serve /probe (only) on this address, with the same TLS
  --probe-stun URL1,URL2        STUN servers for the NAT probe's own candidates (default none)
  --disable-probe               don't answer /probe
  --serve-web-proxy             serve the web proxy page at /web-proxy/ (volunteers open it to be proxies)
  --web-proxy-stun URL1,URL2    STUN servers the page uses (default Go's proxy defaults)
  --web-proxy-keep-local-addresses  the page keeps LAN ICE candidates (testing on a LAN)
  --client-timeout DURATION     how long a client waits for its proxy's answer (default 5s)
  --proxy-timeout DURATION      how long a proxy's poll is held (default 10s)
  --proxy-poll-interval DURATION shortest NextPoll sent to proxies (default 5s)
  --proxy-poll-interval-max DURATION longest NextPoll sent to proxies (default 1m)
  --metrics-log FILE            append the usage counts here once per metrics interval
  --metrics-interval DURATION   (default 24h)
  --disable-geoip, --geoipdb FILE, --geoip6db FILE   accepted for compatibility; no GeoIP
  --log FILE                    log file (default stderr)
  --unsafe-logging              prevent logs from being scrubbed
  --version                     print the version and exit
`;

export interface BrokerFlags {
  addr: { hostname: string; port: number };
  acmeHostnames: string[];
  acmeEmail?: string;
  acmeCertCache: string;
  acmeDirectoryUrl: string;
  acmeCaCert?: string;
  acmeHttpPort: number;
  cert?: string;
  key?: string;
  disableTls: boolean;
  bridgeListPath?: string;
  allowedRelayPattern: string;
  defaultRelayPattern: string;
  sqsName?: string;
  sqsRegion?: string;
  sqsEndpoint?: string;
  probeAddr?: { hostname: string; port: number };
  probeStun: string[];
  disableProbe: boolean;
  serveWebProxy: boolean;
  /** Absent: the page's defaults (Go's proxy's); `""`: none. */
  webProxyStun?: string[];
  webProxyKeepLocalAddresses: boolean;
  clientTimeoutMs: number;
  proxyTimeoutMs: number;
  pollIntervalMs: number;
  pollIntervalMaxMs: number;
  metricsLog?: string;
  metricsIntervalMs: number;
  log?: string;
  unsafeLogging: boolean;
  version: boolean;
  help: boolean;
}

const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`1h30m`, `5s`, `250ms`) in milliseconds. */
export function parseDuration(s: string): number {
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new SyntaxError(`invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s === "") throw new SyntaxError('invalid duration ""');
  return total;
}

/** `host:port`, `:port` or `[v6]:port` → hostname and port (":443" listens on all). */
export function parseAddr(s: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(s);
  if (!m) throw new SyntaxError(`address ${JSON.stringify(s)} is not HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new RangeError(`port ${port} out of range`);
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function parseBrokerFlags(argv: string[]): BrokerFlags {
  const args = argv.map((a) => (/^-[a-z]/.test(a) ? "-" + a : a));
  const str = { type: "string" } as const;
  const bool = { type: "boolean" } as const;
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      addr: str,
      "acme-hostnames": str,
      "acme-email": str,
      "acme-cert-cache": str,
      "acme-directory-url": str,
      "acme-ca-cert": str,
      "acme-http-port": str,
      cert: str,
      key: str,
      "disable-tls": bool,
      "bridge-list-path": str,
      "allowed-relay-pattern": str,
      "default-relay-pattern": str,
      "broker-sqs-name": str,
      "broker-sqs-region": str,
      "broker-sqs-endpoint": str,
      "probe-addr": str,
      "probe-stun": str,
      "disable-probe": bool,
      "serve-web-proxy": bool,
      "web-proxy-stun": str,
      "web-proxy-keep-local-addresses": bool,
      "client-timeout": str,
      "proxy-timeout": str,
      "proxy-poll-interval": str,
      "proxy-poll-interval-max": str,
      "metrics-log": str,
      "metrics-interval": str,
      "disable-geoip": bool,
      geoipdb: str,
      geoip6db: str,
      log: str,
      "unsafe-logging": bool,
      version: bool,
      help: { type: "boolean" },
      h: { type: "boolean" }, // -h, rewritten to --h like every Go-style flag
    },
  });
  const httpPort = Number(v["acme-http-port"] ?? "80");
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
    throw new RangeError(`--acme-http-port ${v["acme-http-port"]} is not a port`);
  }
  const hostnames = (v["acme-hostnames"] ?? "").split(",").filter((h) => h !== "");
  if ((v.cert === undefined) !== (v.key === undefined)) {
    throw new TypeError("--cert and --key go together");
  }
  if (v.cert && (hostnames.length > 0 || v["acme-email"])) {
    throw new TypeError(
      "the --cert and --key options are not allowed with --acme-email or --acme-hostnames",
    );
  }
  return {
    addr: parseAddr(v.addr ?? ":443"),
    acmeHostnames: hostnames,
    acmeEmail: v["acme-email"],
    acmeCertCache: v["acme-cert-cache"] ?? "acme-cert-cache",
    acmeDirectoryUrl: v["acme-directory-url"] ?? LETS_ENCRYPT,
    acmeCaCert: v["acme-ca-cert"],
    acmeHttpPort: httpPort,
    cert: v.cert,
    key: v.key,
    disableTls: v["disable-tls"] ?? false,
    bridgeListPath: v["bridge-list-path"],
    allowedRelayPattern: v["allowed-relay-pattern"] ?? "",
    defaultRelayPattern: v["default-relay-pattern"] ?? "",
    sqsName: v["broker-sqs-name"],
    sqsRegion: v["broker-sqs-region"],
    sqsEndpoint: v["broker-sqs-endpoint"],
    probeAddr: v["probe-addr"] ? parseAddr(v["probe-addr"]) : undefined,
    probeStun: (v["probe-stun"] ?? "").split(",").filter((u) => u !== ""),
    disableProbe: v["disable-probe"] ?? false,
    serveWebProxy: v["serve-web-proxy"] ?? false,
    webProxyStun: v["web-proxy-stun"]?.split(",").filter((u) => u !== ""),
    webProxyKeepLocalAddresses: v["web-proxy-keep-local-addresses"] ?? false,
    clientTimeoutMs: parseDuration(v["client-timeout"] ?? "5s"),
    proxyTimeoutMs: parseDuration(v["proxy-timeout"] ?? "10s"),
    pollIntervalMs: parseDuration(v["proxy-poll-interval"] ?? "5s"),
    pollIntervalMaxMs: parseDuration(v["proxy-poll-interval-max"] ?? "1m"),
    metricsLog: v["metrics-log"],
    metricsIntervalMs: parseDuration(v["metrics-interval"] ?? "24h"),
    log: v.log,
    unsafeLogging: v["unsafe-logging"] ?? false,
    version: v.version ?? false,
    help: (v.help || v.h) ?? false,
  };
}
