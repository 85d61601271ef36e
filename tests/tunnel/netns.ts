/**
 * Network-namespace topology for pytunnel's end-to-end tests and benchmark:
 * a server namespace joined to client A and client B by two veth pairs (no
 * bridge, no forwarding, no default routes), plus a scratch directory.
 *
 * Every process is started through {@link Topology.spawn} so that cleanup
 * kills exactly those pids; {@link Topology.destroySync} also runs from an
 * `unload` handler so namespaces go away even when a test fails.
 *
 * @module
 */

import { runArgs } from "../../tools/permissions.ts";
import { terminate } from "../../lib/testing/util.ts";

const DENO = Deno.execPath();
const ROOT = new URL("../../", import.meta.url).pathname;

/** True when the tests can create namespaces (root). */
export const IS_ROOT = Deno.uid() === 0;

function sh(cmd: string, args: string[]): void {
  const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** Output of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A spawned process with its output collected as it arrives. */
export class Proc {
  stdout = "";
  stderr = "";
  readonly status: Promise<Deno.CommandStatus>;
  constructor(readonly child: Deno.ChildProcess, readonly label: string) {
    const collect = async (s: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      const dec = new TextDecoder();
      for await (const chunk of s) this[key] += dec.decode(chunk, { stream: true });
    };
    const out = collect(child.stdout, "stdout");
    const err = collect(child.stderr, "stderr");
    this.status = Promise.all([child.status, out, err]).then(([s]) => s);
  }
  get pid(): number {
    return this.child.pid;
  }
  /** Waits until `pattern` appears in stdout or stderr, or the process exits, or the timeout. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.status.then(() => (exited = true));
    while (!pattern.test(this.stdout + this.stderr)) {
      if (exited) {
        throw new Error(`${this.label} exited before ${pattern}:\n${this.stdout}${this.stderr}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.label}: no ${pattern} in ${timeoutMs} ms:\n${this.stdout}${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  /** Sends SIGTERM (then SIGKILL after 3 s) and waits for exit. */
  async stop(): Promise<void> {
    await terminate(this.child, 3000);
    await this.status;
  }
}

/** Server ⇄ client A and server ⇄ client B over two veth pairs. */
export class Topology {
  readonly id: string;
  readonly server: string;
  readonly clientA: string;
  readonly clientB: string;
  readonly serverIpA = "172.31.1.1";
  readonly clientIpA = "172.31.1.2";
  readonly serverIpB = "172.31.2.1";
  readonly clientIpB = "172.31.2.2";
  readonly dir: string;
  #procs = new Set<Proc>();
  #destroyed = false;
  #onUnload = () => this.destroySync();

  private constructor() {
    this.id = crypto.getRandomValues(new Uint8Array(2)).reduce(
      (s, b) => s + b.toString(16).padStart(2, "0"),
      "",
    );
    this.server = `pyt-${this.id}-srv`;
    this.clientA = `pyt-${this.id}-a`;
    this.clientB = `pyt-${this.id}-b`;
    this.dir = Deno.makeTempDirSync({ prefix: `pyt-${this.id}-` });
  }

  /** Creates the namespaces and links. */
  static create(): Topology {
    const t = new Topology();
    globalThis.addEventListener("unload", t.#onUnload);
    try {
      for (const ns of [t.server, t.clientA, t.clientB]) {
        sh("ip", ["netns", "add", ns]);
        sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
      }
      const link = (peer: string, tag: string, serverIp: string, peerIp: string) => {
        const s = `pyt${t.id}s${tag}`, p = `pyt${t.id}${tag}`;
        sh("ip", ["link", "add", s, "netns", t.server, "type", "veth", "peer", p, "netns", peer]);
        sh("ip", ["-n", t.server, "addr", "add", `${serverIp}/24`, "dev", s]);
        sh("ip", ["-n", peer, "addr", "add", `${peerIp}/24`, "dev", p]);
        sh("ip", ["-n", t.server, "link", "set", s, "up"]);
        sh("ip", ["-n", peer, "link", "set", p, "up"]);
      };
      link(t.clientA, "a", t.serverIpA, t.clientIpA);
      link(t.clientB, "b", t.serverIpB, t.clientIpB);
    } catch (e) {
      t.destroySync();
      throw e;
    }
    return t;
  }

  /** Starts `cmd args` inside namespace `ns`; tracked for cleanup. */
  spawn(ns: string, cmd: string, args: string[], label = `${cmd}@${ns}`): Proc {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, cmd, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const p = new Proc(child, label);
    this.#procs.add(p);
    p.status.then(() => this.#procs.delete(p));
    return p;
  }

  /** Runs a command to completion inside `ns`. */
  async run(ns: string, cmd: string, args: string[], stdin?: string): Promise<RunResult> {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, cmd, ...args],
      cwd: ROOT,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const p = new Proc(child, `${cmd}@${ns}`);
    this.#procs.add(p);
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const status = await p.status;
    this.#procs.delete(p);
    return { code: status.code, stdout: p.stdout, stderr: p.stderr };
  }

  /** Starts the pytunnel app from source, with its release permission flags. */
  pytunnel(ns: string, args: string[], label = `pytunnel ${args[0]}@${ns}`): Proc {
    return this.spawn(ns, DENO, runArgs("pytunnel", args), label);
  }

  /** Runs `ping` in `ns`; resolves with its output (code 0 means every reply came back). */
  ping(ns: string, target: string, count = 3, intervalS = 0.2): Promise<RunResult> {
    return this.run(ns, "ping", [
      "-n",
      "-c",
      String(count),
      "-i",
      String(intervalS),
      "-W",
      "2",
      target,
    ]);
  }

  /** Writes a file into the scratch directory and returns its path. */
  file(name: string, text: string, mode = 0o600): string {
    const path = `${this.dir}/${name}`;
    Deno.writeTextFileSync(path, text, { mode });
    Deno.chmodSync(path, mode);
    return path;
  }

  /** Kills every tracked process and waits for them. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#procs].map((p) => p.stop()));
  }

  /** Kills tracked pids, deletes the namespaces and the scratch directory. Idempotent. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    for (const p of this.#procs) {
      try {
        Deno.kill(p.pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    this.#procs.clear();
    for (const ns of [this.server, this.clientA, this.clientB]) {
      try {
        sh("ip", ["netns", "del", ns]);
      } catch { /* never created */ }
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch { /* gone */ }
  }

  /** Async form for finally blocks. */
  async destroy(): Promise<void> {
    await this.stopAll();
    this.destroySync();
  }
}
