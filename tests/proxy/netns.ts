/**
 * Network namespaces for the proxy tests: `sfproxy-<pid>-<n>`, with lo up and a veth pair whose
 * both ends stay inside (WebRTC host candidates need a non-loopback address). The addresses are
 * from 198.18.0.0/15 (benchmarking, RFC 2544): not private, so candidates survive stripping and
 * `client_ip` is reported, as on the Internet. No default route: nothing leaves.
 *
 * @module
 */

const decoder = new TextDecoder();
export const DENO = Deno.execPath();
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** True when namespaces can be made here (Linux and root). */
export const CAN_NETNS = Deno.build.os === "linux" && Deno.uid() === 0;

async function must(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

let counter = 0;

/** A namespace with two addresses, `a` and `b`, on a veth pair. */
export class Netns {
  private constructor(readonly name: string, readonly a: string, readonly b: string) {}

  /** Creates `sfproxy-<pid>-<n>`; `subnet` picks 198.18.<subnet>.0/24 for its veth pair. */
  static async create(subnet = 0): Promise<Netns> {
    const name = `sfproxy-${Deno.pid}-${counter++}`;
    const ns = new Netns(name, `198.18.${subnet}.1`, `198.18.${subnet}.2`);
    await must("ip", ["netns", "add", name]);
    try {
      await must("ip", ["-n", name, "link", "set", "lo", "up"]);
      await must("ip", ["-n", name, "link", "add", "va", "type", "veth", "peer", "name", "vb"]);
      await must("ip", ["-n", name, "addr", "add", `${ns.a}/24`, "dev", "va"]);
      await must("ip", ["-n", name, "addr", "add", `${ns.b}/24`, "dev", "vb"]);
      await must("ip", ["-n", name, "link", "set", "va", "up"]);
      await must("ip", ["-n", name, "link", "set", "vb", "up"]);
    } catch (e) {
      await ns.delete();
      throw e;
    }
    return ns;
  }

  /** The argv prefix that runs a command inside. */
  exec(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...cmd];
  }

  /** Starts `cmd` inside, stdout and stderr piped. */
  spawn(cmd: string[], env: Record<string, string> = {}): Deno.ChildProcess {
    return new Deno.Command("ip", {
      args: ["netns", "exec", this.name, ...cmd],
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  /** Kills whatever still runs inside (only this namespace's processes) and deletes it. */
  async delete(): Promise<void> {
    const pids = (await must("ip", ["netns", "pids", this.name]).catch(() => ""))
      .split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await must("ip", ["netns", "del", this.name]).catch(() => {});
    await Deno.remove(`/etc/netns/${this.name}`, { recursive: true }).catch(() => {});
  }
}

/** Two namespaces joined by a veth pair: `a` in the first, `b` in the second. */
export class NetnsPair {
  private constructor(
    readonly first: string,
    readonly second: string,
    readonly a: string,
    readonly b: string,
  ) {}

  /** Creates `sfproxy-<pid>-<n>a` and `…b` on 198.18.<subnet>.0/24. */
  static async create(subnet = 1): Promise<NetnsPair> {
    const base = `sfproxy-${Deno.pid}-${counter++}`;
    const pair = new NetnsPair(`${base}a`, `${base}b`, `198.18.${subnet}.1`, `198.18.${subnet}.2`);
    try {
      for (const ns of [pair.first, pair.second]) {
        await must("ip", ["netns", "add", ns]);
        await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
      }
      await must("ip", [
        "-n",
        pair.first,
        "link",
        "add",
        "va",
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "netns",
        pair.second,
      ]);
      await must("ip", ["-n", pair.first, "addr", "add", `${pair.a}/24`, "dev", "va"]);
      await must("ip", ["-n", pair.second, "addr", "add", `${pair.b}/24`, "dev", "vb"]);
      await must("ip", ["-n", pair.first, "link", "set", "va", "up"]);
      await must("ip", ["-n", pair.second, "link", "set", "vb", "up"]);
    } catch (e) {
      await pair.delete();
      throw e;
    }
    return pair;
  }

  /** Kills whatever still runs in either namespace and deletes both. */
  async delete(): Promise<void> {
    for (const ns of [this.first, this.second]) {
      const pids = (await must("ip", ["netns", "pids", ns]).catch(() => ""))
        .split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await must("ip", ["netns", "del", ns]).catch(() => {});
    }
  }
}
