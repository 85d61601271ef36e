/**
 * `host-start:` the client starts its WebRTC host process before anything else (client/main.ts,
 * docs/client.md "WebRTC in a process of its own"), so in PT mode it already runs when tor reads
 * `CMETHODS DONE`, before tor's first SOCKS connection; a client that serves no snowflake method
 * (sctp only) ends it at once; and every way the client exits, early ones included (`-version`,
 * a PT version error), ends it first: nothing of the client outlives it. Each client runs in a
 * directory of its own, so its host is told from other clients' hosts on the machine by its
 * working directory. Linux only (elsewhere WebRTC stays in the client's process).
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { launchPtClient, type PtLaunch } from "./pt_launch.ts";

const HOST_ARG = "--webrtc-host-process";
const opts = { ignore: Deno.build.os !== "linux", sanitizeResources: false, sanitizeOps: false };

/** Pids of the processes whose working directory is `dir`. */
function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/cwd`) === dir) found.push(Number(e.name));
    } catch { /* gone, or not ours */ }
  }
  return found;
}

/** The client's WebRTC host processes: its children started with the host argument. */
function hostsOf(pid: number): number[] {
  const list = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
  return (list === "" ? [] : list.split(" ").map(Number)).filter((c) => {
    try {
      return Deno.readTextFileSync(`/proc/${c}/cmdline`).split("\0").includes(HOST_ARG);
    } catch {
      return false;
    }
  });
}

/** A client in PT mode, in a directory of its own, until its stdout says `until`. */
async function ptClient(
  env: Record<string, string>,
  args: string[],
  until: RegExp,
): Promise<PtLaunch & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sfclient-host-start-" });
  return { ...await launchPtClient({ args, cwd: dir, state: dir, env, until }), dir };
}

/**
 * Tor goes away (stdin closed); the client's exit code, what still runs in its directory, and
 * all it wrote to stdout.
 */
async function exit(
  c: Awaited<ReturnType<typeof ptClient>>,
): Promise<[number, number[], string]> {
  await c.child.stdin.close().catch(() => {}); // it may have exited already
  const stdout = c.stdout + await c.rest;
  const { code } = await c.child.status;
  const left = processesIn(c.dir);
  await Deno.remove(c.dir, { recursive: true });
  return [code, left, stdout];
}

Deno.test({
  ...opts,
  name: "host-start: in PT mode the host runs before tor's first connection; exiting ends it",
  fn: async () => {
    const c = await ptClient({}, ["-url", "http://127.0.0.1:1/"], /CMETHODS DONE/);
    let hosts: number[] = [];
    try {
      assert(/^CMETHOD snowflake socks5 /m.test(c.stdout), c.stdout);
      hosts = hostsOf(c.child.pid);
      assertEquals(hosts.length, 1, `the client's hosts when tor may connect: ${hosts}`);
      assert(processesIn(c.dir).includes(hosts[0]!), "the host runs in the client's directory");
    } finally {
      const [code, left] = await exit(c);
      assertEquals(code, 0);
      assertEquals(left, [], `still running after the client exited: ${left}`);
    }
  },
});

Deno.test({
  ...opts,
  name: "host-start: a client serving only sctp ends its host before offering the method",
  fn: async () => {
    const c = await ptClient(
      { TOR_PT_CLIENT_TRANSPORTS: "sctp" },
      ["-url", "http://127.0.0.1:1/"],
      /CMETHODS DONE/,
    );
    try {
      assert(/^CMETHOD sctp socks5 /m.test(c.stdout), c.stdout);
      assertEquals(hostsOf(c.child.pid), []);
    } finally {
      const [code, left] = await exit(c);
      assertEquals(code, 0);
      assertEquals(left, [], `still running after the client exited: ${left}`);
    }
  },
});

Deno.test({
  ...opts,
  name: "host-start: -version and a PT version error exit with no host left behind",
  fn: async () => {
    for (
      const [env, args, expect] of [
        [{}, ["-version"], /^$/],
        [{ TOR_PT_MANAGED_TRANSPORT_VER: "2" }, [], /^VERSION-ERROR/m],
      ] as const
    ) {
      const c = await ptClient(env, [...args], /^/);
      const [code, left, stdout] = await exit(c);
      assert(expect.test(stdout), stdout);
      assertEquals(code, args.length ? 0 : 1);
      assertEquals(left, [], `${args.join(" ") || "VERSION-ERROR"}: still running: ${left}`);
    }
  },
});
