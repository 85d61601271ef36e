/**
 * What the sctp tests share: our binaries' command lines and PT environments, a child
 * process whose output can be waited on, and a SOCKS5 CONNECT as tor makes it.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { encodeClientArgs, splitClientArgs } from "../../lib/pt/socks.ts";
import { readFull } from "../../lib/net/io.ts";
import { concatBytes } from "../../lib/net/bytes.ts";

export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const DENO = Deno.execPath();
export const CAN_NETNS = Deno.build.os === "linux" && Deno.uid() === 0;
export const USRSCTP = "/usr/lib/usrsctp";

/** Our server as tor runs it with `ServerTransportPlugin sctp`: argv and environment. */
export function serverCommand(
  bind: string,
  orport: string,
  stateDir: string,
  options = "",
): { cmd: string[]; env: Record<string, string> } {
  return {
    cmd: [DENO, ...runArgs("server", ["--disable-tls", "--unsafe-logging"]).map(rooted)],
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      TOR_PT_MANAGED_TRANSPORT_VER: "1",
      TOR_PT_SERVER_TRANSPORTS: "sctp",
      TOR_PT_SERVER_BINDADDR: `sctp-${bind}`,
      TOR_PT_ORPORT: orport,
      TOR_PT_STATE_LOCATION: stateDir,
      ...(options ? { TOR_PT_SERVER_TRANSPORT_OPTIONS: options } : {}),
    },
  };
}

/** Our client as tor runs it with `ClientTransportPlugin sctp`: argv and environment. */
export function clientPtCommand(stateDir: string): { cmd: string[]; env: Record<string, string> } {
  return {
    cmd: [DENO, ...runArgs("client", ["--log-stderr", "--unsafe-logging"]).map(rooted)],
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      TOR_PT_MANAGED_TRANSPORT_VER: "1",
      TOR_PT_CLIENT_TRANSPORTS: "sctp",
      TOR_PT_STATE_LOCATION: stateDir,
    },
  };
}

/** Our client in standalone mode: SOCKS on `socks`, carried over sctp to `server`. */
export function clientStandaloneCommand(socks: string, server: string): string[] {
  return [
    DENO,
    ...runArgs("client", ["--socks", socks, "--sctp-server", server, "--unsafe-logging"]).map(
      rooted,
    ),
  ];
}

function rooted(a: string): string {
  return /^[a-z]+\/main\.ts$/.test(a) ? `${ROOT}/${a}` : a;
}

/** A child process whose stdout and stderr are kept for {@link waitFor} and failure logs. */
export class Proc {
  #out = "";
  readonly child: Deno.ChildProcess;
  readonly #done: Promise<unknown>;

  constructor(readonly name: string, cmd: string[], env?: Record<string, string>, stdin = false) {
    this.child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      cwd: ROOT,
      env,
      clearEnv: env !== undefined,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (s: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of s) this.#out += decoder.decode(chunk, { stream: true });
    };
    this.#done = Promise.all([collect(this.child.stdout), collect(this.child.stderr)]);
  }

  get output(): string {
    return this.#out;
  }

  /** Waits until the output matches `re`; its match. Throws on exit or after `ms`. */
  async waitFor(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    let exited = false;
    this.child.status.then(() => (exited = true));
    for (;;) {
      const m = this.#out.match(re);
      if (m) return m;
      if (exited) throw new Error(`${this.name} exited before ${re}:\n${this.#out.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`${this.name}: no ${re} in ${ms} ms:\n${this.#out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; waits for the output to end. */
  async stop(graceMs = 3000): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    await this.child.status;
    clearTimeout(t);
    await this.#done;
  }
}

/**
 * A SOCKS5 CONNECT to `host:port` through the SOCKS server on 127.0.0.1:`socksPort`, with
 * PT arguments as tor passes a bridge line's (username/password). The open connection.
 */
export async function socks5Connect(
  socksPort: number,
  host: string,
  port: number,
  args: [string, string][] = [],
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: socksPort });
  try {
    const auth = args.length > 0;
    await conn.write(new Uint8Array([5, 1, auth ? 2 : 0]));
    const choice = await readFull(conn, 2, "SOCKS5 method");
    if (auth) {
      const { username, password } = splitClientArgs(encodeClientArgs(args));
      await conn.write(
        concatBytes([
          new Uint8Array([1, username.length]),
          username,
          new Uint8Array([password.length]),
          password,
        ]),
      );
      const status = await readFull(conn, 2, "SOCKS5 auth");
      if (status[1] !== 0) throw new Error(`SOCKS5 auth refused: ${status[1]}`);
    } else if (choice[1] !== 0) throw new Error(`SOCKS5 method refused: ${choice[1]}`);
    const ip = host.split(".").map(Number);
    await conn.write(new Uint8Array([5, 1, 0, 1, ...ip, port >> 8, port & 0xff]));
    const reply = await readFull(conn, 10, "SOCKS5 reply");
    if (reply[1] !== 0) throw new Error(`SOCKS5 CONNECT failed with code ${reply[1]}`);
    return conn;
  } catch (e) {
    conn.close();
    throw e;
  }
}
