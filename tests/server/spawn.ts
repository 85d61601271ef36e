/**
 * Runs the server entry point as tor would (`deno run` with the binary's own permission
 * flags) and collects its stdout lines.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface ServerProcess {
  child: Deno.ChildProcess;
  /** Lines read so far. */
  lines: string[];
  /** Resolves with all lines up to and including one matching `re` (or stdout EOF). */
  waitFor(re: RegExp): Promise<string[]>;
  /** Resolves with the exit status (stdout fully read). */
  status: Promise<Deno.CommandStatus>;
  stderr: Promise<string>;
  kill(signal?: Deno.Signal): void;
}

export function spawnServer(
  env: Record<string, string>,
  args: string[] = ["--disable-tls"],
): ServerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: runArgs("server", args),
    cwd: ROOT,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/tmp", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string[]) => void }[] = [];
  let eof = false;
  const reading = (async () => {
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        for (const w of [...waiters]) {
          if (w.re.test(lines.at(-1)!)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve([...lines]);
          }
        }
      }
    }
    eof = true;
    for (const w of waiters.splice(0)) w.resolve([...lines]);
  })();
  const stderr = new Response(child.stderr).text();
  return {
    child,
    lines,
    stderr,
    waitFor(re) {
      if (lines.some((l) => re.test(l)) || eof) return Promise.resolve([...lines]);
      return new Promise((resolve) => waiters.push({ re, resolve }));
    },
    status: reading.then(() => child.status),
    kill(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    },
  };
}

/** A good server environment pointing the ORPort at `orPort`. */
export function goodEnv(
  orPort: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TOR_PT_MANAGED_TRANSPORT_VER: "1",
    TOR_PT_SERVER_TRANSPORTS: "snowflake",
    TOR_PT_SERVER_BINDADDR: "snowflake-127.0.0.1:0",
    TOR_PT_ORPORT: `127.0.0.1:${orPort}`,
    ...extra,
  };
}

/** The port of the first `SMETHOD snowflake` line. */
export function smethodPort(lines: string[]): number {
  for (const l of lines) {
    const m = /^SMETHOD snowflake \S+:(\d+)/.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error(`no SMETHOD line in ${JSON.stringify(lines)}`);
}
