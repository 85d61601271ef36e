/**
 * Runs a binary's entry point as its release build runs: `deno run` with exactly the
 * flags of tools/permissions.ts (runArgs), a clean environment, output collected.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";

/** A running entry point. */
export class Binary {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<Deno.CommandStatus>;

  constructor(
    argv: string[],
    opts: { env?: Record<string, string>; prefix?: string[]; stdin?: "piped" | "null" } = {},
  ) {
    const [cmd, ...args] = [...(opts.prefix ?? []), Deno.execPath(), ...argv];
    this.child = new Deno.Command(cmd!, {
      args,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>, to: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of s) this[to] += decoder.decode(chunk, { stream: true });
    };
    const pumps = Promise.all([
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ]);
    this.#done = this.child.status.then(async (s) => (await pumps, s));
  }

  /** The binary `name` with `args`, under its release flags. */
  static start(
    name: string,
    args: string[],
    opts: { env?: Record<string, string>; prefix?: string[]; stdin?: "piped" | "null" } = {},
  ): Binary {
    return new Binary(runArgs(name, args), opts);
  }

  /** Runs to the end; returns the exit code. Throws with its output if it is still running after `ms`. */
  static async run(
    name: string,
    args: string[],
    opts: { env?: Record<string, string>; stdin?: string; ms?: number } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const b = Binary.start(name, args, {
      env: opts.env,
      stdin: opts.stdin === undefined ? "null" : "piped",
    });
    if (opts.stdin !== undefined) {
      const w = b.child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overdue = new Promise<"overdue">((r) =>
      timer = setTimeout(() => r("overdue"), opts.ms ?? 120_000)
    );
    const ended = await Promise.race([b.status(), overdue]);
    clearTimeout(timer);
    if (ended === "overdue") {
      await b.stop();
      throw new Error(
        `${name} ${args.join(" ")} still running\nstdout:\n${b.stdout}\nstderr:\n${b.stderr}`,
      );
    }
    return { code: ended.code, stdout: b.stdout, stderr: b.stderr };
  }

  status(): Promise<Deno.CommandStatus> {
    return this.#done;
  }

  /** Waits until stdout or stderr matches `re` (throws with both if it exits or times out). */
  async waitFor(re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let exited = false;
    this.#done.then(() => (exited = true));
    for (;;) {
      const m = this.stdout.match(re) ?? this.stderr.match(re);
      if (m) return m;
      if (exited || Date.now() > deadline) {
        throw new Error(
          `${
            exited ? "exited" : "timed out"
          } before ${re}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then SIGKILL after 10 s; returns the status. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    try {
      return await this.#done;
    } finally {
      clearTimeout(t);
    }
  }
}

/** Throws unless `text` matches `re`. */
export function assertMatch(text: string, re: RegExp, msg?: string): void {
  if (!re.test(text)) {
    throw new Error(msg ?? `${JSON.stringify(text.slice(0, 2000))} does not match ${re}`);
  }
}

/** The environment tor gives a managed client PT, state under `dir`, stdin left open. */
export function ptClientEnv(dir: string): Record<string, string> {
  return {
    TOR_PT_MANAGED_TRANSPORT_VER: "1",
    TOR_PT_CLIENT_TRANSPORTS: "snowflake",
    TOR_PT_STATE_LOCATION: `${dir}/client_state/`,
    TOR_PT_EXIT_ON_STDIN_CLOSE: "0",
  };
}
