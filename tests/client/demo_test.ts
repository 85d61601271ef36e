/**
 * `demo:` the README's main job runs as `deno task demo` (the real chain with tor) and
 * `deno task demo --no-tor` (a built-in origin in place of tor, curl as the user). Each kills
 * the proxy carrying the session halfway through a 10 MB download and must end with a PASS
 * verdict (payload intact, session moved); afterwards no process the demo started and no
 * namespace it created is left. SIGINT in the middle of a run stops everything too; without
 * root (so without namespaces, which WebRTC needs for non-loopback addresses) the demo says
 * in one line how to run it and exits 2.
 *
 * While the demo runs, the test samples /proc for the demo's descendants (pid and start
 * time, so a reused pid is not mistaken for a leftover) and `ip netns list` for namespaces
 * named after one of them.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_RUN } from "../e2e/harness.ts";
import { CAN_NETNS, DENO, must, ROOT, waitUntil } from "./netns.ts";
import { sleep } from "../../lib/net/sleep.ts";

/** pid → start time (clock ticks since boot) of every process now running. */
function processes(): Map<number, { ppid: number; start: string }> {
  const all = new Map<number, { ppid: number; start: string }>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      // Fields after the parenthesised command name: state ppid ... starttime is field 22.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      all.set(Number(e.name), { ppid: Number(rest[1]), start: rest[19] ?? "" });
    } catch { /* exited */ }
  }
  return all;
}

async function namespaces(): Promise<string[]> {
  const out = await must("ip", ["netns", "list"]);
  return out.split("\n").map((l) => l.split(" ")[0] ?? "").filter(Boolean);
}

interface DemoRun {
  code: number;
  text: string;
  stderr: string;
  /** Descendants seen during the run: pid → start time. */
  seen: Map<number, string>;
  /** Namespaces named after one of them. */
  seenNs: Set<string>;
}

/**
 * Runs `deno task demo ...args`; with `interruptAt`, sends SIGINT to the demo's own process
 * (tools/demo.ts, under deno task) once its output matches.
 */
async function runDemo(args: string[], interruptAt?: RegExp): Promise<DemoRun> {
  const child = new Deno.Command(DENO, {
    args: ["task", "demo", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const seen = new Map<number, string>([[child.pid, ""]]);
  const seenNs = new Set<string>();
  let text = "";
  let stderr = "";
  let interrupted = false;
  const decoder = new TextDecoder();
  const readOut = (async () => {
    for await (const chunk of child.stdout) text += decoder.decode(chunk, { stream: true });
  })();
  const readErr = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  let exited = false;
  const status = child.status.finally(() => (exited = true));
  while (!exited) {
    const procs = processes();
    for (const [pid, p] of procs) {
      if (seen.has(p.ppid) && !seen.has(pid)) seen.set(pid, p.start);
    }
    for (const ns of await namespaces()) {
      const pid = Number(/-(\d+)(?:-|$)/.exec(ns)?.[1] ?? 0);
      if (seen.has(pid)) seenNs.add(ns);
    }
    if (interruptAt && !interrupted && interruptAt.test(text)) {
      const demo = [...seen.keys()].find((pid) => {
        try {
          const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
          return cmd.includes("run") && cmd.some((a) => a.endsWith("tools/demo.ts"));
        } catch {
          return false;
        }
      });
      if (demo) {
        Deno.kill(demo, "SIGINT");
        interrupted = true;
      }
    }
    await sleep(250);
  }
  const { code } = await status;
  await Promise.all([readOut, readErr]);
  return { code, text, stderr, seen, seenNs };
}

/** Waits (the tor network's daemon tears down just after the demo) and asserts nothing is left. */
async function assertNothingLeft(run: DemoRun): Promise<void> {
  const leftovers = async () => {
    const procs = processes();
    const alive = [...run.seen].filter(([pid, start]) => procs.get(pid)?.start === start)
      .map(([pid]) => pid);
    const nss = (await namespaces()).filter((ns) => run.seenNs.has(ns));
    return { alive, nss };
  };
  await waitUntil(async () => {
    const l = await leftovers();
    return l.alive.length === 0 && l.nss.length === 0;
  }, 30_000).catch(() => {});
  const l = await leftovers();
  assertEquals(l.nss, [], "namespaces left behind");
  assertEquals(
    l.alive.map((pid) => Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ")),
    [],
    "processes left behind",
  );
}

function verdictOf(run: DemoRun): string {
  return run.text.split("\n").filter((l) => l.startsWith("demo: ")).at(-1) ?? "";
}

function assertPassed(run: DemoRun): void {
  console.log(run.text.split("\n").filter((l) => l.startsWith("demo:")).join("\n"));
  const verdict = verdictOf(run);
  assert(/^demo: PASS/.test(verdict), `${verdict}\n${run.stderr.slice(-3000)}`);
  assert(/sha256 matches/.test(verdict), verdict);
  assert(/killing our-proxy\d/.test(run.text), run.text);
  assert(/moved to the other proxy/.test(verdict), verdict);
  assertEquals(run.code, 0);
}

Deno.test({
  name: "demo: deno task demo (tor) passes with a proxy killed halfway and leaves nothing behind",
  ignore: !CAN_RUN,
  async fn() {
    const run = await runDemo([]);
    assertPassed(run);
    assert(run.seenNs.size > 0, "saw none of the demo's namespaces");
    await assertNothingLeft(run);
  },
});

Deno.test({
  name:
    "demo: deno task demo --no-tor passes with a proxy killed halfway and leaves nothing behind",
  ignore: !CAN_NETNS,
  async fn() {
    const run = await runDemo(["--no-tor"]);
    assertPassed(run);
    assert(/curl through our Snowflake client \(no tor\)/.test(verdictOf(run)), verdictOf(run));
    assert(run.seenNs.size > 0, "saw none of the demo's namespaces");
    await assertNothingLeft(run);
  },
});

Deno.test({
  name: "demo: SIGINT in the middle of deno task demo --no-tor stops everything it started",
  ignore: !CAN_NETNS,
  async fn() {
    const run = await runDemo(["--no-tor"], /demo:\s+\d+\.\d of 10 MB/);
    console.log(run.text.split("\n").filter((l) => l.startsWith("demo:")).join("\n"));
    assert(/demo: SIGINT: stopping everything/.test(run.text), run.text + run.stderr);
    assertEquals(run.code, 130);
    assert(run.seenNs.size > 0, "saw none of the demo's namespaces");
    // Proxies, broker, server, origin, coturn, client and curl were all running.
    assert(run.seen.size >= 8, `only ${run.seen.size} processes seen`);
    await assertNothingLeft(run);
  },
});

Deno.test({
  name: "demo: without root, deno task demo --no-tor says how to run it and exits 2",
  ignore: !CAN_NETNS,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "demo-nobody-" });
    try {
      await Deno.chmod(home, 0o777);
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          DENO,
          "task",
          "demo",
          "--no-tor",
        ],
        cwd: ROOT,
        env: { DENO_DIR: home, HOME: home },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 2, err);
      const lines = err.split("\n").filter((l) => l.startsWith("demo:"));
      assertEquals(lines.length, 1, err);
      assert(/run it as root/.test(lines[0]!), err);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
