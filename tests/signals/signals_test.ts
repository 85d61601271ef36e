/**
 * No signal starts a debugger in any of our binaries (lib/process/no_inspector.ts),
 * and pytunnel roams on SIGHUP or `pytunnel roam`. Each process runs as in
 * production (flags from tools/permissions.ts) in a namespace of its own, so
 * that any new listening socket, 127.0.0.1:9229 above all, is its doing.
 * Needs root (namespaces).
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { BINARIES, runArgs } from "../../tools/permissions.ts";
import { goodEnv, smethodPort } from "../server/spawn.ts";
import { SERVER_TUN, TunnelEnv } from "../tunnel/env.ts";
import { IS_ROOT } from "../tunnel/netns.ts";
import { denoIn, sh, SignalNs, type Watched } from "./netns.ts";
import { sleep } from "../../lib/net/sleep.ts";

const opts = { ignore: !IS_ROOT, sanitizeOps: false, sanitizeResources: false };
const HOLD = "tests/signals/fixtures/hold.ts";
const INSPECTOR = /:9229$/;

/**
 * Sends SIGUSR1 (twice, in case the first raced the runtime's set-up) and
 * waits long enough for an inspector to have bound; the listening sockets after.
 */
async function afterSigusr1(ns: SignalNs, p: Watched): Promise<string[]> {
  // Deno installs its SIGUSR1 watcher 500 ms after start: be past that.
  await sleep(1000);
  for (let i = 0; i < 2; i++) {
    Deno.kill(p.child.pid, "SIGUSR1");
    await sleep(750);
  }
  return await ns.listening();
}

async function inNs(fn: (ns: SignalNs) => Promise<void>): Promise<void> {
  const ns = await SignalNs.create();
  try {
    await fn(ns);
  } finally {
    await ns.destroy();
  }
}

Deno.test({
  ...opts,
  name:
    "signals: control: without the guard, SIGUSR1 does open the inspector (the test can see it)",
  fn: () =>
    inNs(async (ns) => {
      const p = denoIn(ns, ["run", ...BINARIES.pytunnel!.flags, HOLD]);
      try {
        await p.waitFor(/ready/);
        const after = await afterSigusr1(ns, p);
        assert(after.some((l) => INSPECTOR.test(l)), `no inspector: ${after.join(", ")}`);
      } finally {
        await p.stop();
      }
    }),
});

for (const [name, spec] of Object.entries(BINARIES)) {
  Deno.test({
    ...opts,
    name: `signals: ${name}: its entry point makes SIGUSR1 harmless under its release flags`,
    fn: () =>
      inNs(async (ns) => {
        const p = denoIn(ns, ["run", ...spec.flags, HOLD, spec.entry]);
        try {
          await p.waitFor(/ready/);
          const before = await ns.listening();
          const after = await afterSigusr1(ns, p);
          assertEquals(after, before, p.output);
          assert(!p.exited, `exited on SIGUSR1: ${p.output}`);
        } finally {
          await p.stop();
        }
      }),
  });
}

Deno.test({
  ...opts,
  name: "signals: server run as tor runs it: SIGUSR1 opens nothing and it still answers",
  fn: () =>
    inNs(async (ns) => {
      const p = denoIn(ns, runArgs("server", ["--disable-tls"]), goodEnv(9));
      try {
        await p.waitFor(/SMETHODS DONE/);
        const port = smethodPort(p.output.split("\n"));
        const before = await ns.listening();
        const after = await afterSigusr1(ns, p);
        assertEquals(after, before, p.output);
        const code = await sh("ip", [
          "netns",
          "exec",
          ns.name,
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `http://127.0.0.1:${port}/`,
        ]);
        assert(/^[1-5]\d\d$/.test(code), `server did not answer HTTP: ${code}`);
      } finally {
        await p.stop();
      }
    }),
});

Deno.test({
  ...opts,
  name:
    "signals: pytunnel server and client: SIGUSR1 opens nothing, SIGHUP and `roam` move the client",
  async fn() {
    const env = await TunnelEnv.create();
    const { topo } = env;
    try {
      const sockets = (ns: string, flags = "-Hlntu") =>
        topo.run(ns, "ss", [flags]).then((r) => r.stdout.split("\n").sort());
      const tcpBefore = [await sockets(topo.server, "-Hlnt"), await sockets(topo.clientA, "-Hlnt")];
      const endpoint = async () =>
        (await env.serverStatus()).peers.find((p) => p.name === "a")!.endpoint;
      const before = [await sockets(topo.server), await sockets(topo.clientA)];
      for (const p of [env.server, env.clientA]) Deno.kill(p.pid, "SIGUSR1");
      await sleep(750);
      for (const p of [env.server, env.clientA]) Deno.kill(p.pid, "SIGUSR1");
      await sleep(750);
      assertEquals([await sockets(topo.server), await sockets(topo.clientA)], before);

      const first = await endpoint();
      Deno.kill(env.clientA.pid, "SIGHUP");
      await env.clientA.waitFor(/rebound UDP socket/);
      const ping = await topo.ping(topo.clientA, SERVER_TUN, 3);
      assertEquals(ping.code, 0, ping.stdout);
      const second = await endpoint();
      assert(second !== first, `SIGHUP: endpoint stayed ${first}`);

      const roam = await topo.run(topo.clientA, Deno.execPath(), [
        ...runArgs("pytunnel", ["roam", "--socket", env.aSock]),
      ]);
      assertEquals(roam.code, 0, roam.stderr);
      assert(/rebound UDP socket to /.test(roam.stdout), roam.stdout);
      const again = await topo.ping(topo.clientA, SERVER_TUN, 3);
      assertEquals(again.code, 0, again.stdout);
      assert((await endpoint()) !== second, "roam: endpoint did not move");

      // A server has nothing to move: SIGHUP leaves it running.
      Deno.kill(env.server.pid, "SIGHUP");
      const still = await topo.ping(topo.clientB, SERVER_TUN, 2);
      assertEquals(still.code, 0, still.stdout);
      // Roaming moved the client's UDP port; no TCP listener (an inspector) came with it.
      const tcpAfter = [await sockets(topo.server, "-Hlnt"), await sockets(topo.clientA, "-Hlnt")];
      assertEquals(tcpAfter, tcpBefore);
    } finally {
      await env.destroy();
    }
  },
});

/** The binaries that run their WebRTC in a host process, and how each is started. */
const HOSTING: [name: string, args: string[], ready: RegExp][] = [
  [
    "client",
    runArgs("client", ["-socks", "127.0.0.1:0", "-url", "http://127.0.0.1:1/"]),
    /SOCKS4\/4a\/5 proxy on/,
  ],
  [
    "proxy",
    runArgs("broker-proxy", ["proxy", "-broker", "http://127.0.0.1:1/", "-stun", ""]),
    /snowflake-proxy \d/,
  ],
];

for (const [name, args, ready] of HOSTING) {
  Deno.test({
    ...opts,
    name: `signals: ${name}'s WebRTC host process: SIGUSR1 opens nothing and it lives on`,
    fn: () =>
      inNs(async (ns) => {
        const p = denoIn(ns, args);
        try {
          await p.waitFor(ready);
          const pid = p.child.pid;
          let host = 0;
          for (let i = 0; i < 100 && !host; i++, await sleep(100)) {
            host = Number(
              Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(" ")[0],
            );
          }
          assert(host > 0, `no WebRTC host process: ${p.output}`);
          assert(Deno.readTextFileSync(`/proc/${host}/cmdline`).includes("--webrtc-host-process"));
          // libwebrtc's ICE-TCP listeners come and go with each rendezvous attempt, so
          // a before/after comparison would see them; look for the inspector's port.
          await sleep(1000); // past Deno's SIGUSR1 watcher set-up in the host
          for (let i = 0; i < 2; i++, await sleep(750)) Deno.kill(host, "SIGUSR1");
          const after = await ns.listening();
          assert(!after.some((l) => INSPECTOR.test(l)), `inspector: ${after.join(", ")}`);
          assert(Deno.readTextFileSync(`/proc/${host}/cmdline`).includes("--webrtc-host-process"));
        } finally {
          await p.stop();
        }
      }),
  });
}
