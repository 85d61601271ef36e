/**
 * snowflake-server: the bridge-side pluggable transport (managed by tor through
 * ServerTransportPlugin). Flags follow the Go server; see README "## Server".
 *
 * @module
 */
import "../lib/process/no_inspector.ts";
import { parseArgs } from "node:util";
import { programArgs } from "../lib/process/args.ts";
import type { AcmeCertManager } from "../lib/acme/mod.ts";
import { flagLogger } from "../lib/log/mod.ts";
import { type OrTarget, parseAuthCookie } from "../lib/pt/extorport.ts";
import {
  type Bindaddr,
  formatAddr,
  getArg,
  makeStateDir,
  PtSetupError,
  type ServerInfo,
  serverSetup,
} from "../lib/pt/server_env.ts";
import { PtStdout } from "../lib/pt/stdout.ts";
import { parseIPCIDR } from "./orport.ts";
import { SnowflakeServer } from "./server.ts";
import {
  STANDALONE_OPTIONS,
  STANDALONE_USAGE,
  standaloneEnv,
  type StandaloneValues,
} from "./standalone.ts";
import { METHOD_NAME } from "./turbotunnel.ts";
import { runSctpServer, SCTP_METHOD } from "./sctp/run.ts";
import { freeUdpPort } from "../lib/sctp/mod.ts";

export const VERSION = "2.11.0-deno";

const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

const USAGE = `Usage: snowflake-server [OPTIONS]

WebSocket server pluggable transport for Snowflake. Works only as a managed proxy
(tor's ServerTransportPlugin). Uses TLS with ACME (Let's Encrypt) by default: set the
certificate hostnames with --acme-hostnames. Use ServerTransportListenAddr in torrc to
choose the listening port. With TLS, an extra HTTP listener on port 80 answers ACME.

  --acme-email EMAIL        optional contact email for Let's Encrypt notifications
  --acme-hostnames H1,H2    comma-separated hostnames for the TLS certificate
  --acme-directory-url URL  ACME directory (default Let's Encrypt production)
  --acme-ca-cert FILE       the only CA to trust for the ACME server (testing with pebble)
  --acme-http-port PORT     port of the HTTP-01 listener (default 80)
  --disable-tls             don't use HTTPS
  --log FILE                log file to write to (default stderr)
  --unsafe-logging          prevent logs from being scrubbed
  --metrics-address IP:PORT serve Prometheus metrics at http://IP:PORT/metrics
  --version                 display version info to stderr and quit
${STANDALONE_USAGE}`;

interface Flags {
  acmeEmail?: string;
  acmeHostnames: string[];
  acmeDirectoryUrl: string;
  acmeCaCert?: string;
  acmeHttpPort: number;
  disableTls: boolean;
  log?: string;
  unsafeLogging: boolean;
  metricsAddress?: string;
  version: boolean;
  standalone: StandaloneValues;
}

/** Parses flags; Go's flag package accepts `-flag` as well as `--flag`. */
export function parseFlags(argv: string[]): Flags {
  const args = argv.map((a) => (/^-[a-z]/.test(a) ? "-" + a : a));
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      "acme-email": { type: "string" },
      "acme-hostnames": { type: "string" },
      "acme-directory-url": { type: "string" },
      "acme-ca-cert": { type: "string" },
      "acme-http-port": { type: "string" },
      "disable-tls": { type: "boolean" },
      log: { type: "string" },
      "unsafe-logging": { type: "boolean" },
      "metrics-address": { type: "string" },
      version: { type: "boolean" },
      help: { type: "boolean" },
      h: { type: "boolean" }, // -h, which the Go-style rewrite above turns into --h
      ...STANDALONE_OPTIONS,
    },
  });
  if (values.help || values.h) {
    console.error(USAGE);
    Deno.exit(0);
  }
  const httpPort = Number(values["acme-http-port"] ?? "80");
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
    throw new RangeError(`--acme-http-port ${values["acme-http-port"]} is not a port`);
  }
  return {
    acmeEmail: values["acme-email"],
    acmeHostnames: (values["acme-hostnames"] ?? "").split(",").filter((h) => h !== ""),
    acmeDirectoryUrl: values["acme-directory-url"] ?? LETS_ENCRYPT,
    acmeCaCert: values["acme-ca-cert"],
    acmeHttpPort: httpPort,
    disableTls: values["disable-tls"] ?? false,
    log: values.log,
    unsafeLogging: values["unsafe-logging"] ?? false,
    metricsAddress: values["metrics-address"],
    version: values.version ?? false,
    standalone: Object.fromEntries(
      Object.keys(STANDALONE_OPTIONS).map((k) => [k, values[k as keyof StandaloneValues]]),
    ),
  };
}

/** Go's strconv.Atoi error text, so SMETHOD-ERROR lines read the same. */
function parseNumTurbotunnel(value: string): number {
  if (!/^[+-]?\d+$/.test(value)) {
    throw new SyntaxError(`strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  const n = Number(value);
  if (n < 1) throw new RangeError("cannot be less than 1");
  return n;
}

/** A whole number (seconds, a count) from a transport option. */
function parseCount(s: string, name: string): number {
  if (!/^\d{1,9}$/.test(s)) throw new RangeError(`${name}: ${JSON.stringify(s)} is not a number`);
  return Number(s);
}

async function main(): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(programArgs());
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (flags.version) {
    console.error(`snowflake-server ${VERSION}`);
    return 0;
  }
  const opened = flagLogger(flags.log, flags.unsafeLogging);
  if (!opened) return 1;
  const log = opened; // a const the nested functions below see as non-null
  log.log(`snowflake-server ${VERSION}`);
  // Only the snowflake transport has TLS; a bridge that runs sctp alone needs no ACME.
  const transports = (Deno.env.get("TOR_PT_SERVER_TRANSPORTS") ?? "").split(",");
  const wantsTls = transports.some((t) => t !== SCTP_METHOD);
  if (!flags.disableTls && wantsTls && flags.acmeHostnames.length === 0) {
    log.log("the --acme-hostnames option is required");
    return 1;
  }
  let getenv;
  try {
    getenv = await standaloneEnv(flags.standalone) ?? undefined;
  } catch (e) {
    log.log(`standalone mode: ${(e as Error).message}`);
    return 1;
  }
  const out = new PtStdout();
  let info: ServerInfo;
  try {
    info = serverSetup(out, getenv);
  } catch (e) {
    log.log(`error in setup: ${(e as Error).message}`);
    if (e instanceof PtSetupError) return 1;
    throw e;
  }

  // The cookie file is read on every ExtORPort connection, as goptlib does: tor may
  // rewrite it, and a missing file only fails the streams, not the setup.
  const target: OrTarget = {
    orAddr: info.orAddr,
    extendedOrAddr: info.extendedOrAddr,
    cookie: null,
    cookiePath: info.authCookiePath,
  };
  if (info.extendedOrAddr && info.authCookiePath) {
    try {
      parseAuthCookie(await Deno.readFile(info.authCookiePath));
    } catch (e) {
      log.log(`warning: TOR_PT_AUTH_COOKIE_FILE unusable for now: ${(e as Error).message}`);
    }
  }

  // Listen for signals before SMETHODS DONE, so tor can stop us as soon as it has the lines.
  const stop = new Promise<string>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(sig, () => resolve(`caught signal ${sig}`));
    }
    if (info.exitOnStdinClose) {
      (async () => {
        try {
          for await (const _ of Deno.stdin.readable) { /* discard */ }
        } catch { /* treat errors as EOF */ }
        resolve("synthesizing SIGTERM because of stdin close");
      })();
    }
  });
  const servers: SnowflakeServer[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let acme: AcmeCertManager | null = null;
  let acmeError: string | null = null;

  for (const bindaddr of info.bindaddrs) {
    if (bindaddr.methodName === SCTP_METHOD) {
      try {
        const port = bindaddr.addr.port || freeUdpPort(bindaddr.addr.hostname);
        const bind = { hostname: bindaddr.addr.hostname, port };
        const idle = getArg(bindaddr.options, "idle-timeout");
        const max = getArg(bindaddr.options, "max-associations");
        const sctp = runSctpServer({
          bind,
          or: target,
          log: (m) => log.log(m),
          autocloseSeconds: idle === undefined ? undefined : parseCount(idle, "idle-timeout"),
          maxAssociations: max === undefined ? undefined : parseCount(max, "max-associations"),
        });
        closers.push(() => sctp.close());
        out.smethod(SCTP_METHOD, formatAddr(bind));
      } catch (e) {
        log.log(`error opening sctp listener: ${(e as Error).message}`);
        out.smethodError(SCTP_METHOD, (e as Error).message);
      }
      continue;
    }
    if (bindaddr.methodName !== METHOD_NAME) {
      out.smethodError(bindaddr.methodName, "no such method");
      continue;
    }
    const result = await openBindaddr(bindaddr);
    if (typeof result === "string") {
      log.log(`error opening listener: ${result}`);
      out.smethodError(bindaddr.methodName, result);
    }
  }
  out.smethodsDone();

  async function openBindaddr(bindaddr: Bindaddr): Promise<string | void> {
    const src = getArg(bindaddr.options, "orport-srcaddr");
    if (src !== undefined) {
      try {
        parseIPCIDR(src);
      } catch (e) {
        return `parsing srcaddr: ${(e as Error).message}`;
      }
    }
    let numTurbotunnel = 1;
    const ntt = getArg(bindaddr.options, "num-turbotunnel");
    if (ntt !== undefined) {
      try {
        numTurbotunnel = parseNumTurbotunnel(ntt);
      } catch (e) {
        return `parsing num-turbotunnel: ${(e as Error).message}`;
      }
    }
    let tls: { cert: string; key: string } | undefined;
    const args: [string, string][] = [];
    if (flags.disableTls) {
      args.push(["tls", "no"]);
    } else {
      if (!acme && !acmeError) {
        let cacheDir: string;
        try {
          cacheDir = `${await makeStateDir(info)}/snowflake-certificate-cache`;
          log.log(`caching ACME certificates in directory ${JSON.stringify(cacheDir)}`);
        } catch (e) {
          cacheDir = await Deno.makeTempDir({ prefix: "snowflake-certificate-cache-" });
          log.log(`no state directory (${(e as Error).message}); certificates in ${cacheDir}`);
        }
        // Loaded only when used: the ACME client and its dependencies are half of the
        // process's baseline memory (36 of 72 MiB).
        const { AcmeCertManager } = await import("../lib/acme/manager.ts");
        const m = new AcmeCertManager({
          directoryUrl: flags.acmeDirectoryUrl,
          hostnames: flags.acmeHostnames,
          email: flags.acmeEmail,
          cacheDir,
          httpPort: flags.acmeHttpPort,
          httpHostname: bindaddr.addr.hostname,
          caCertFile: flags.acmeCaCert,
          log,
        });
        try {
          await m.start();
          acme = m;
          closers.push(() => m.close());
          m.onRenew((c) => {
            log.log("ACME certificate renewed; reloading TLS listeners");
            for (const s of servers) s.reloadTls(c.certPem, c.keyPem);
          });
        } catch (e) {
          acmeError = `ACME: ${(e as Error).message}`;
        }
      }
      if (!acme) return acmeError ?? "ACME: no certificate";
      const c = acme.current();
      tls = { cert: c.certPem, key: c.keyPem };
      args.push(...flags.acmeHostnames.map((h): [string, string] => ["hostname", h]));
      args.push(["tls", "yes"]);
    }
    const server = new SnowflakeServer({
      target,
      log,
      numTurbotunnel,
      srcaddr: src ?? null,
      unsafeLogging: flags.unsafeLogging,
    });
    let addr: Deno.NetAddr;
    try {
      addr = await server.listen(bindaddr.addr, tls);
    } catch (e) {
      await server.close();
      return (e as Error).message;
    }
    servers.push(server);
    out.smethod(bindaddr.methodName, formatAddr(addr), args);
    log.log(`listening on ${formatAddr(addr)} (num-turbotunnel=${numTurbotunnel})`);
  }

  if (flags.metricsAddress) {
    try {
      const [host, port] = splitHostPort(flags.metricsAddress);
      const m = Deno.serve({ hostname: host, port, onListen: () => {} }, (req) => {
        if (new URL(req.url).pathname !== "/metrics") return new Response("", { status: 404 });
        const body = servers.map((s) => s.renderMetrics()).join("");
        return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4" } });
      });
      closers.push(() => m.shutdown());
      log.log(`metrics on http://${formatAddr(m.addr)}/metrics`);
    } catch (e) {
      log.log(`cannot open metrics listener: ${(e as Error).message}`);
    }
  }

  const why = await stop;
  log.log(`${why}, exiting`);
  await Promise.allSettled([...servers.map((s) => s.close()), ...closers.map((c) => c())]);
  return 0;
}

function splitHostPort(s: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m) throw new SyntaxError(`address ${JSON.stringify(s)} is not HOST:PORT`);
  return [m[1] || "127.0.0.1", Number(m[2])];
}

if (import.meta.main) {
  Deno.exit(await main());
}
