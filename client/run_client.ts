/**
 * The Snowflake client (README: Client), run by client/main.ts. Under tor it is a managed
 * pluggable transport (PT v1, `CMETHOD snowflake socks5 127.0.0.1:PORT`); with `--socks IP:PORT`
 * it is a standalone SOCKS4/4a/5 proxy. Flags follow the Go snowflake-client (client/flags.ts).
 *
 * @module
 */
import { programArgs } from "../lib/process/args.ts";
import { fileSink, Logger, writeStderr } from "../lib/log/mod.ts";
import { clientSetup, PtProxyError, wantsMethod } from "../lib/pt/client_env.ts";
import { isIPv4, isIPv6, PtSetupError } from "../lib/pt/server_env.ts";
import { PtStdout } from "../lib/pt/stdout.ts";
import { keepResidentMemoryLow } from "../lib/process/resident_memory.ts";
import type { IsolatedWebRTC } from "../lib/snowflake/webrtc_isolated.ts";
import { FlagError, HelpRequested, parseClientFlags, usage } from "./flags.ts";
import type { ClientFlags } from "./flags.ts";
import { serveSocks } from "./front.ts";
import { runSctpClient } from "./sctp/run.ts";
import { clientWebRTC } from "./webrtc_process.ts";

export const VERSION = "2.11.0-deno";
/** The transports this binary offers (README: sctp transport). */
const METHODS = ["snowflake", "sctp"] as const;
type Method = typeof METHODS[number];

/** The log sink the flags ask for: a file (scrubbed unless unsafe), else nothing (Go). */
function makeLogger(flags: ClientFlags, stateDir: string | null, standalone: boolean): Logger {
  const sinks: ((line: string) => void)[] = [];
  if (flags.log !== "") {
    let path = flags.log;
    if (flags.logToStateDir) {
      if (!stateDir) throw new Error("--log-to-state-dir needs TOR_PT_STATE_LOCATION");
      Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      path = `${stateDir.replace(/\/$/, "")}/${path}`;
    }
    sinks.push(fileSink(path));
  }
  // Tor may not read our stderr (Go writes nothing there); standalone users do.
  if (standalone || flags.logStderr) sinks.push(writeStderr);
  return new Logger({ unsafe: flags.unsafeLogging, write: (l) => sinks.forEach((s) => s(l)) });
}

function parseHostPort(s: string, flag = "--socks"): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m || Number(m[3]) > 65535) throw new FlagError(`${flag} ${s}: expected IP:PORT`);
  return { hostname: m[1] ?? m[2]!, port: Number(m[3]) };
}

/**
 * Runs the client until it is stopped; its exit code. `host`: the WebRTC host client/main.ts
 * started (null where there is none), which the caller ends.
 */
export async function runClient(host: IsolatedWebRTC | null): Promise<number> {
  let flags: ClientFlags;
  try {
    flags = parseClientFlags(programArgs());
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.error(usage());
      return 0;
    }
    if (!(e instanceof FlagError)) throw e;
    console.error(`${e.message}\n${usage()}`);
    return 2;
  }
  if (flags.version) {
    console.error(`snowflake-client ${VERSION}`);
    return 0;
  }
  const standalone = flags.socks !== "";
  const out = new PtStdout();
  let exitOnStdinClose = false;
  let stateDir: string | null = null;
  let methods: Method[] = [flags.sctpServer !== "" ? "sctp" : "snowflake"];
  if (!standalone) {
    let info;
    try {
      info = clientSetup(out);
    } catch (e) {
      if (e instanceof PtSetupError || e instanceof PtProxyError) return 1;
      throw e;
    }
    stateDir = info.stateLocation;
    exitOnStdinClose = info.exitOnStdinClose;
    if (info.proxy) {
      // WebRTC (ICE over UDP) and SCTP over UDP cannot be sent through TOR_PT_PROXY with
      // @roamhq/wrtc or usrsctp, and rendezvous alone through it would still leak the proxies
      // we talk to: refuse.
      out.proxyError(
        `${info.proxy.scheme} proxy not supported: WebRTC traffic cannot go through it (README: TOR_PT_PROXY)`,
      );
      return 1;
    }
    for (const name of info.methodNames) {
      if (!(METHODS as readonly string[]).includes(name) && name !== "*") {
        out.cmethodError(name, "no such method");
      }
    }
    methods = METHODS.filter((m) => wantsMethod(info, m));
    if (methods.length === 0) {
      out.cmethodsDone();
      return 0;
    }
  }
  if (!methods.includes("snowflake")) await host?.stop();
  let log: Logger;
  try {
    log = makeLogger(flags, stateDir, standalone);
  } catch (e) {
    if (!standalone) methods.forEach((m) => out.cmethodError(m, (e as Error).message));
    console.error((e as Error).message);
    return 1;
  }
  log.log(`snowflake-client ${VERSION}`);
  let sctpServer: { hostname: string; port: number } | undefined;
  try {
    if (flags.sctpServer !== "") {
      sctpServer = parseHostPort(flags.sctpServer, "--sctp-server");
      if (!isIPv4(sctpServer.hostname) && !isIPv6(sctpServer.hostname)) {
        throw new FlagError(`--sctp-server ${flags.sctpServer}: expected an IP address`);
      }
    }
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const listenOn = standalone ? parseHostPort(flags.socks) : { hostname: "127.0.0.1", port: 0 };
  const listeners = new Map<Method, Deno.Listener>();
  for (const method of methods) {
    try {
      listeners.set(method, Deno.listen({ ...listenOn, transport: "tcp" }));
    } catch (e) {
      if (!standalone) out.cmethodError(method, (e as Error).message);
      log.log(`${method}: cannot listen: ${(e as Error).message}`);
    }
  }
  if (listeners.size === 0) {
    if (!standalone) out.cmethodsDone();
    return 1;
  }
  for (const [method, listener] of listeners) {
    const addr = listener.addr as Deno.NetAddr;
    log.log(
      `${method} SOCKS listener at ${addr.hostname}:${addr.port} (${
        standalone ? "standalone" : "PT"
      } mode)`,
    );
    if (!standalone) out.cmethod(method, "socks5", `${addr.hostname}:${addr.port}`);
    else console.error(`snowflake-client: SOCKS4/4a/5 proxy on ${addr.hostname}:${addr.port}`);
  }
  if (!standalone) out.cmethodsDone();
  keepResidentMemoryLow((m) => log.log(m));

  const stop = new AbortController();
  const shutdown = (why: string) => {
    if (stop.signal.aborted) return;
    log.log(`stopping: ${why}`);
    stop.abort(new Error(why));
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => shutdown(sig));
  }
  if (exitOnStdinClose) {
    (async () => {
      try {
        for await (const _ of Deno.stdin.readable) { /* discard */ }
      } catch { /* EOF */ }
      shutdown("stdin closed");
    })();
  }
  const mode = standalone ? "standalone" : "pt";
  const webrtc = await clientWebRTC((m) => log.log(m), host);
  await Promise.all(
    [...listeners].map(([method, listener]) =>
      method === "sctp"
        ? runSctpClient(listener, {
          mode,
          server: sctpServer,
          log: (m) => log.log(m),
          signal: stop.signal,
        })
        : serveSocks(listener, {
          mode,
          config: flags.config,
          env: { webrtc, log: (m) => log.log(m) },
          signal: stop.signal,
        })
    ),
  );
  await host?.stop();
  log.log("snowflake-client is done");
  return 0;
}
