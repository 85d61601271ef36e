/**
 * What the signals tests need around a process: a network namespace of its
 * own (so that 127.0.0.1:9229 is free and every listening socket is ours),
 * the listening sockets in it, and a wait for a line of output.
 *
 * @module
 */

let seq = 0;

/** A fresh namespace with loopback up; {@link SignalNs.destroy} removes it. */
export class SignalNs {
  private constructor(readonly name: string) {}

  static async create(): Promise<SignalNs> {
    const ns = new SignalNs(`pytunnel-sig-${Deno.pid}-${seq++}`);
    await sh("ip", ["netns", "add", ns.name]);
    await sh("ip", ["-n", ns.name, "link", "set", "lo", "up"]);
    return ns;
  }

  /** Listening TCP and UDP sockets in the namespace, as "proto local-address" lines. */
  async listening(): Promise<string[]> {
    const out = await sh("ip", ["netns", "exec", this.name, "ss", "-Hlntu"]);
    return out.split("\n").filter((l) => l.trim()).map((l) => {
      const f = l.trim().split(/\s+/);
      return `${f[0]} ${f[4]}`;
    }).sort();
  }

  async destroy(): Promise<void> {
    await sh("ip", ["netns", "del", this.name]).catch(() => {});
  }
}

/** Runs a command; its stdout, or throws with its stderr. */
export async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** A spawned process whose stdout and stderr are collected into one text. */
export class Watched {
  output = "";
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(readonly child: Deno.ChildProcess) {
    const collect = async (s: ReadableStream<Uint8Array<ArrayBuffer>>) => {
      for await (const t of s.pipeThrough(new TextDecoderStream())) this.output += t;
    };
    this.status = Promise.all([child.status, collect(child.stdout), collect(child.stderr)])
      .then(([s]) => s);
    this.status.then(() => (this.#exited = true));
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Waits until the output matches (or the process exits, or 30 s pass: then throws). */
  async waitFor(re: RegExp): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!re.test(this.output)) {
      if (this.#exited || Date.now() > deadline) {
        throw new Error(`no ${re} in output:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await this.status;
  }
}

/** Spawns `deno args` inside `ns`, with `env` added. */
export function denoIn(ns: SignalNs, args: string[], env: Record<string, string> = {}): Watched {
  return new Watched(
    new Deno.Command("ip", {
      args: ["netns", "exec", ns.name, Deno.execPath(), ...args],
      cwd: new URL("../../", import.meta.url).pathname,
      env: { NO_COLOR: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
}
