/**
 * Entry point of the Snowflake client (README: Client). Under tor it is a managed pluggable
 * transport (PT v1, `CMETHOD snowflake socks5 127.0.0.1:PORT`); with `--socks IP:PORT` it is
 * a standalone SOCKS4/4a/5 proxy. Flags follow the Go snowflake-client (client/flags.ts).
 *
 * @module
 */
import { fileSink, Logger, writeStderr } from "../lib/log/mod.ts";
import { clientSetup, PtProxyError, wantsMethod } from "../lib/pt/client_env.ts";
import { PtSetupError } from "../lib/pt/server_env.ts";
import { PtStdout } from "../lib/pt/stdout.ts";
import { wrtcWebRTC } from "../lib/snowflake/webrtc_wrtc.ts";
import { FlagError, HelpRequested, parseClientFlags, usage } from "./flags.ts";
import type { ClientFlags } from "./flags.ts";
import { serveSocks } from "./front.ts";

export const VERSION = "2.11.0-deno";
const METHOD = "snowflake";

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

function parseHostPort(s: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m || Number(m[3]) > 65535) throw new FlagError(`--socks ${s}: expected IP:PORT`);
  return { hostname: m[1] ?? m[2]!, port: Number(m[3]) };
}

async function main(): Promise<number> {
  let flags: ClientFlags;
  try {
    flags = parseClientFlags(Deno.args);
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
      // WebRTC (ICE over UDP) cannot be sent through TOR_PT_PROXY with @roamhq/wrtc, and
      // rendezvous alone through it would still leak the proxies we talk to: refuse.
      out.proxyError(
        `${info.proxy.scheme} proxy not supported: WebRTC traffic cannot go through it (README: TOR_PT_PROXY)`,
      );
      return 1;
    }
    for (const name of info.methodNames) {
      if (name !== METHOD && name !== "*") out.cmethodError(name, "no such method");
    }
    if (!wantsMethod(info, METHOD)) {
      out.cmethodsDone();
      return 0;
    }
  }
  let log: Logger;
  try {
    log = makeLogger(flags, stateDir, standalone);
  } catch (e) {
    if (!standalone) out.cmethodError(METHOD, (e as Error).message);
    console.error((e as Error).message);
    return 1;
  }
  log.log(`snowflake-client ${VERSION}`);
  const listenOn = standalone ? parseHostPort(flags.socks) : { hostname: "127.0.0.1", port: 0 };
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ ...listenOn, transport: "tcp" });
  } catch (e) {
    if (!standalone) {
      out.cmethodError(METHOD, (e as Error).message);
      out.cmethodsDone();
    }
    log.log(`cannot listen: ${(e as Error).message}`);
    return 1;
  }
  const addr = listener.addr as Deno.NetAddr;
  log.log(
    `SOCKS listener at ${addr.hostname}:${addr.port} (${standalone ? "standalone" : "PT"} mode)`,
  );
  if (!standalone) {
    out.cmethod(METHOD, "socks5", `${addr.hostname}:${addr.port}`);
    out.cmethodsDone();
  } else {
    console.error(`snowflake-client: SOCKS4/4a/5 proxy on ${addr.hostname}:${addr.port}`);
  }

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
  await serveSocks(listener, {
    mode: standalone ? "standalone" : "pt",
    config: flags.config,
    env: { webrtc: wrtcWebRTC, log: (m) => log.log(m) },
    signal: stop.signal,
  });
  log.log("snowflake-client is done");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
