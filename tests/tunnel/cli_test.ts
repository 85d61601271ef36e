/**
 * What a person meets on the command line: the dev tasks (`deno task pytunnel
 * -- …`), one-line errors with cause and fix, Ctrl-C. Tagged `cli:`.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { programArgs } from "../../lib/process/args.ts";
import { DEV_TASKS, devTaskCommand } from "../../tools/permissions.ts";
import { encodeKey, generatePrivateKey, publicKeyOf } from "../../pytunnel/core.ts";
import { denoIn, SignalNs, Watched } from "../signals/netns.ts";
import { IS_ROOT } from "./netns.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONFIG = `${ROOT}deno.json`;
const rootOnly = { ignore: !IS_ROOT, sanitizeOps: false, sanitizeResources: false };

function serverYaml(port: number, extra = ""): string {
  const key = encodeKey(generatePrivateKey());
  const peer = encodeKey(publicKeyOf(generatePrivateKey()));
  return `listen_port: ${port}\nprivate_key: "${key}"\ntunnel_ip: 10.77.0.1/24\n` +
    `interface: pyt0\n${extra}peers:\n  - { name: a, public_key: "${peer}", tunnel_ip: 10.77.0.2 }\n`;
}

/** The pids of a process's children. */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

Deno.test("cli: deno.json's dev tasks are the commands tools/permissions.ts gives", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(CONFIG)).tasks as Record<string, string>;
  for (const name of Object.keys(DEV_TASKS)) {
    assertEquals(tasks[name], devTaskCommand(name), "run tools/dev_tasks.ts to rewrite them");
  }
});

Deno.test("cli: a leading -- (from deno task) is dropped, a -- after options is kept", () => {
  assertEquals(programArgs(["--", "check", "-c", "x"]), ["check", "-c", "x"]);
  assertEquals(programArgs(["broker", "--", "--addr", "1"]), ["broker", "--addr", "1"]);
  assertEquals(programArgs(["-c", "x", "--", "y"]), ["-c", "x", "--", "y"]);
  assertEquals(programArgs(["status"]), ["status"]);
});

Deno.test({
  name:
    "cli: deno task pytunnel -- … runs in the caller's directory, as the task's own child, exit code kept",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pyt-cli-" });
    try {
      await Deno.writeTextFile(`${dir}/server.yaml`, serverYaml(51820), { mode: 0o600 });
      await Deno.chmod(`${dir}/server.yaml`, 0o600);
      const task = (args: string[], stdin: "piped" | "null" = "null") =>
        new Deno.Command(Deno.execPath(), {
          args: ["task", "-q", "--config", CONFIG, "pytunnel", "--", ...args],
          cwd: dir,
          env: { NO_COLOR: "1" },
          stdin,
          stdout: "piped",
          stderr: "piped",
        });
      const ok = await task(["check", "-c", "server.yaml"]).output();
      assertEquals(ok.code, 0, new TextDecoder().decode(ok.stderr));
      assertEquals(
        new TextDecoder().decode(ok.stdout).trim(),
        "server.yaml: valid server configuration",
      );
      const missing = await task(["check", "-c", "nothere.yaml"]).output();
      assertEquals(missing.code, 1);
      const err = new TextDecoder().decode(missing.stderr).trim();
      assert(err.startsWith("pytunnel: nothere.yaml: cannot read") && !err.includes("\n"), err);

      // `pubkey` waits on stdin: look at the process tree meanwhile.
      const child = task(["pubkey"], "piped").spawn();
      const p = new Watched(child);
      let kids: number[] = [];
      for (let i = 0; i < 200 && kids.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        kids = children(child.pid);
      }
      assertEquals(kids.length, 1, `children of deno task: ${kids}`);
      const cmdline = Deno.readTextFileSync(`/proc/${kids[0]}/cmdline`).split("\0");
      assert(cmdline.some((a) => a.endsWith("pytunnel/main.ts")), cmdline.join(" "));
      assertEquals(children(kids[0]!), [], "the entry point has no child of its own");
      const priv = generatePrivateKey();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(encodeKey(priv) + "\n"));
      await w.close();
      assertEquals((await p.status).code, 0, p.output);
      assertEquals(p.output.trim(), encodeKey(publicKeyOf(priv)));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  ...rootOnly,
  name:
    "cli: an interface that is taken: one line with cause and fix, exit 1; Ctrl-C stops cleanly",
  async fn() {
    const ns = await SignalNs.create();
    const dir = await Deno.makeTempDir({ prefix: "pyt-cli-" });
    let first: Watched | undefined;
    try {
      const sock = `${dir}/first.sock`;
      for (
        const [name, text] of [
          ["first.yaml", serverYaml(51820, `status: ${sock}\n`)],
          ["second.yaml", serverYaml(51821)],
        ]
      ) {
        await Deno.writeTextFile(`${dir}/${name}`, text!, { mode: 0o600 });
        await Deno.chmod(`${dir}/${name}`, 0o600);
      }
      // A session of its own, so that Ctrl-C can go to the whole group as a terminal sends it.
      first = new Watched(
        new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            ns.name,
            "setsid",
            Deno.execPath(),
            "task",
            "-q",
            "--config",
            CONFIG,
            "pytunnel",
            "--",
            "server",
            "-c",
            "first.yaml",
          ],
          cwd: dir,
          env: { NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).spawn(),
      );
      await first.waitFor(/server started/);
      const second = denoIn(ns, [
        "task",
        "-q",
        "--config",
        CONFIG,
        "pytunnel",
        "--",
        "server",
        "-c",
        `${dir}/second.yaml`,
      ]);
      const code = (await second.status).code;
      assertEquals(code, 1, second.output);
      const line = second.output.trim();
      assert(!line.includes("\n") && !/\bat \S+:\d+/.test(line), `not one line:\n${line}`);
      assert(line.includes("interface pyt0 is taken") && line.includes("another interface"), line);

      Deno.kill(-first.child.pid, "SIGINT");
      const st = await first.status;
      assertEquals(st.code, 0, first.output);
      assert(/server stopped/.test(first.output), first.output);
      assert(!/error|Error/.test(first.output), first.output);
      let gone = false;
      try {
        Deno.statSync(sock);
      } catch {
        gone = true;
      }
      assert(gone, "the status socket is still there");
    } finally {
      await first?.stop();
      await Deno.remove(dir, { recursive: true });
      await ns.destroy();
    }
  },
});
