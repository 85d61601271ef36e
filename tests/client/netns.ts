/**
 * Two network namespaces joined by a veth pair, for the client tests: `a` (198.18.S.1, plus
 * any extra addresses) and `b` (198.18.S.2). 198.18.0.0/15 is the benchmarking range: not
 * private, so WebRTC candidates survive stripping, as on the Internet. No default route:
 * nothing leaves. Processes started here are tracked and killed by pid on {@link NsPair.delete}.
 *
 * @module
 */

const decoder = new TextDecoder();
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const DENO = Deno.execPath();
export const CAN_NETNS = Deno.build.os === "linux" && Deno.uid() === 0;

export async function must(cmd: string, args: string[], stdin?: string): Promise<string> {
  const c = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = c.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await c.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

let counter = 0;

/** Starts a long-running command in `ns`; its output goes to `<dir>/<name>.log`. */
export function spawnInNs(
  ns: string,
  name: string,
  cmd: string[],
  dir: string,
  env: Record<string, string> = {},
): NsProc {
  const logPath = `${dir}/${name}.log`;
  const file = Deno.openSync(logPath, { write: true, create: true, append: true });
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const copy = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) file.writeSync(chunk);
  };
  Promise.all([copy(child.stdout), copy(child.stderr)]).catch(() => {}).finally(() => {
    try {
      file.close();
    } catch { /* closed */ }
  });
  return new NsProc(name, child, logPath);
}

/** A process started inside a namespace, output to a file. */
export class NsProc {
  exited = false;
  /** How it ended, once it has. */
  exitStatus: Deno.CommandStatus | null = null;
  readonly status: Promise<Deno.CommandStatus>;
  constructor(readonly name: string, readonly child: Deno.ChildProcess, readonly logPath: string) {
    this.status = child.status.then((s) => {
      this.exited = true;
      this.exitStatus = s;
      return s;
    });
  }
  /**
   * "client0 exited with SIGSEGV (…)" and the tail of its output, or null while it runs: the
   * evidence a test shows when a process under test died (a signal means a crash, often native).
   */
  death(tail = 2000): string | null {
    const s = this.exitStatus;
    if (!s) return null;
    const how = s.signal
      ? `was killed by ${s.signal}${s.signal === "SIGSEGV" ? " (a native crash; see dmesg)" : ""}`
      : `exited with code ${s.code}`;
    return `${this.name} (pid ${this.pid}) ${how}; its output ends:\n${this.log().slice(-tail)}`;
  }
  get pid(): number {
    return this.child.pid;
  }
  log(): string {
    try {
      return Deno.readTextFileSync(this.logPath);
    } catch {
      return "";
    }
  }
  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    await this.status;
    clearTimeout(t);
  }
  /** SIGKILL now (a proxy dying). */
  async kill(): Promise<void> {
    if (this.exited) return;
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.status;
  }
}

/** Two namespaces on one veth pair. */
export class NsPair {
  readonly procs: NsProc[] = [];
  private constructor(
    readonly a: string,
    readonly b: string,
    readonly ipA: string,
    readonly ipB: string,
    readonly dir: string,
  ) {}

  /** Creates `sfclient-<pid>-<n>a` and `…b`; `subnet` picks 198.18.<subnet>.0/24. */
  static async create(subnet: number, extraA: string[] = []): Promise<NsPair> {
    const base = `sfclient-${Deno.pid}-${counter++}`;
    const dir = await Deno.makeTempDir({ prefix: `${base}-` });
    const p = new NsPair(`${base}a`, `${base}b`, `198.18.${subnet}.1`, `198.18.${subnet}.2`, dir);
    try {
      for (const ns of [p.a, p.b]) {
        await must("ip", ["netns", "add", ns]);
        await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
        await Deno.mkdir(`/etc/netns/${ns}`, { recursive: true });
        await Deno.writeTextFile(`/etc/netns/${ns}/hosts`, "127.0.0.1 localhost\n");
      }
      await must("ip", [
        "-n",
        p.a,
        "link",
        "add",
        "va",
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "netns",
        p.b,
      ]);
      await must("ip", ["-n", p.a, "addr", "add", `${p.ipA}/24`, "dev", "va"]);
      for (const ip of extraA) {
        await must("ip", ["-n", p.a, "addr", "add", `${ip}/24`, "dev", "va"]);
      }
      await must("ip", ["-n", p.b, "addr", "add", `${p.ipB}/24`, "dev", "vb"]);
      await must("ip", ["-n", p.a, "link", "set", "va", "up"]);
      await must("ip", ["-n", p.b, "link", "set", "vb", "up"]);
    } catch (e) {
      await p.delete();
      throw e;
    }
    return p;
  }

  /** Runs a command in `ns` to completion; its stdout. */
  exec(ns: string, cmd: string[], stdin?: string): Promise<string> {
    return must("ip", ["netns", "exec", ns, ...cmd], stdin);
  }

  /** Starts a long-running command in `ns`; output goes to `<dir>/<name>.log`. */
  spawn(ns: string, name: string, cmd: string[], env: Record<string, string> = {}): NsProc {
    const proc = spawnInNs(ns, name, cmd, this.dir, env);
    this.procs.push(proc);
    return proc;
  }

  /** Stops every process started here, deletes both namespaces and the work directory. */
  async delete(keepDir = false): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    for (const ns of [this.a, this.b]) {
      // Whatever is left inside (processes our children started) goes too.
      const pids = await must("ip", ["netns", "pids", ns]).catch(() => "");
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch { /* gone */ }
      }
      await must("ip", ["netns", "del", ns]).catch(() => {});
      await Deno.remove(`/etc/netns/${ns}`, { recursive: true }).catch(() => {});
    }
    if (!keepDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The pid of the WebRTC host process (lib/snowflake/webrtc_process.ts) of the process `parent`,
 * or null.
 */
export function webrtcHostOf(parent: number): number | null {
  try {
    const children = Deno.readTextFileSync(`/proc/${parent}/task/${parent}/children`).trim();
    for (const pid of children.split(" ").filter(Boolean)) {
      if (Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("--webrtc-host-process")) {
        return Number(pid);
      }
    }
  } catch { /* gone */ }
  return null;
}

/** Polls until `ok()` or throws after `ms`, early when `failed()` names a reason. */
export async function waitUntil(
  ok: () => boolean | Promise<boolean>,
  ms: number,
  failed: () => string | null = () => null,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    const why = failed();
    if (why) throw new Error(why);
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
