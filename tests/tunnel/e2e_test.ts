/**
 * pytunnel end to end, as root, in three namespaces (server, client A, client B)
 * sharing one topology: ping, iperf, flood, replay, ACL, roaming, config, UI.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { runArgs } from "../../tools/permissions.ts";
import { type StatusReport } from "../../pytunnel/report.ts";
import { CHROMIUM } from "../web_proxy/has_chromium.ts";
import { iperf } from "./iperf.ts";
import { IS_ROOT } from "./netns.ts";
import { newKeys, PORT, SERVER_TUN, tunnelEnv, until } from "./env.ts";

const opts = { ignore: !IS_ROOT, sanitizeOps: false, sanitizeResources: false };
const DENO = Deno.execPath();
const ROOT = new URL("../../", import.meta.url).pathname;

function drops(r: StatusReport, reason: string): number {
  return r.drops[reason] ?? 0;
}

function counter(r: StatusReport, name: string): number {
  return r.counters[name] ?? 0;
}

function received(pingOut: string): number {
  return Number(/(\d+) received/.exec(pingOut)?.[1] ?? 0);
}

Deno.test({
  ...opts,
  name: "tunnel:ping: client A pings client B and the server's tunnel address",
  async fn() {
    const env = await tunnelEnv();
    // Under the release flags the sockets are batched and have their 4 MiB buffer.
    for (const p of [env.server, env.clientA]) {
      assert(/recvmmsg\/sendmmsg, buffer (\d+) KiB/.test(p.stderr), p.stderr);
      assert(Number(/buffer (\d+) KiB/.exec(p.stderr)![1]) >= 4096, p.stderr);
    }
    const toServer = await env.topo.ping(env.topo.clientA, SERVER_TUN, 3);
    assertEquals(toServer.code, 0, toServer.stdout + toServer.stderr);
    const toB = await env.topo.ping(env.topo.clientA, "10.9.0.3", 3);
    assertEquals(toB.code, 0, toB.stdout + toB.stderr);
    const toA = await env.topo.ping(env.topo.clientB, "10.9.0.2", 2);
    assertEquals(toA.code, 0, toA.stdout + toA.stderr);
    const s = await env.serverStatus();
    const a = s.peers.find((p) => p.name === "a")!;
    assert(a.lastHandshake !== null, "peer a has no handshake");
    assertEquals(a.endpoint?.startsWith(env.topo.clientIpA + ":"), true, String(a.endpoint));
  },
});

Deno.test({
  ...opts,
  name: "tunnel:iperf: iperf3 TCP from client A to the server runs 10 s with no errors",
  async fn() {
    const env = await tunnelEnv();
    const r = await iperf(env.topo, env.topo.server, env.topo.clientA, SERVER_TUN, 10);
    assertEquals(r.error, undefined, r.error);
    assert(r.seconds >= 9.5, `ran ${r.seconds} s`);
    assert(r.bytes > 0, "no bytes received");
    console.log(
      `  pytunnel iperf3: ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, ` +
        `${r.retransmits} retransmits`,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "tunnel:flood: 50,000 spoofed initiations: DH within budget; a legitimate client still connects",
  async fn() {
    const env = await tunnelEnv();
    const { topo } = env;
    const before = await env.serverStatus();
    const attacker = topo.pytunnel(topo.clientA, [
      "attack",
      "flood",
      "--target",
      `${topo.serverIpA}:${PORT}`,
      "--server-key",
      env.keys.server.pub,
      "--count",
      "50000",
      "--spoof-cidr",
      "10.200.0.0/16",
      // Paced to last ~5 s, so that client B's restart, handshake and pings happen inside it.
      "--rate",
      "10000",
    ], "flood");
    // While the flood runs, client B restarts (a fresh handshake) and pings.
    await until("flood to reach the server", async () => {
      const s = await env.serverStatus();
      const shed = (r: StatusReport) => (r.counters.cookieReplies ?? 0) + drops(r, "ratelimit");
      return shed(s) - shed(before) > 1000 ||
        (await Promise.race([attacker.status.then(() => true), Promise.resolve(false)]));
    });
    await env.clientB.stop();
    env.clientB = await env.startClient(topo.clientB, "b.yaml");
    const ping = await topo.ping(topo.clientB, SERVER_TUN, 5, 0.2);
    const floodStillRunning = await Promise.race([
      attacker.status.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 0)),
    ]);
    const status = await attacker.status;
    assertEquals(status.code, 0, attacker.stderr);
    const summary = JSON.parse(attacker.stdout.trim().split("\n").pop()!);
    assertEquals(summary.sent, 50000);
    assert(floodStillRunning, "the flood ended before client B's handshake and pings");
    assert(received(ping.stdout) >= 4, `client B during the flood:\n${ping.stdout}`);
    const after = await env.serverStatus();
    // A quiet server does DH for initiations without a cookie, but at most its
    // unproven budget (100/s) before it is under load and asks for cookies.
    const unproven = counter(after, "dhUnverified") - counter(before, "dhUnverified");
    assert(unproven <= 100 * 12, `unproven DH ${unproven} over budget`);
    const b = after.peers.find((p) => p.name === "b")!;
    assert(
      b.lastHandshake !== null && Date.parse(b.lastHandshake) > Date.parse(before.startedAt!),
      "client B did not complete a handshake during the flood",
    );
    const challenged = (after.counters.cookieReplies ?? 0) - (before.counters.cookieReplies ?? 0) +
      drops(after, "cookie") - drops(before, "cookie") + drops(after, "ratelimit") -
      drops(before, "ratelimit");
    assert(challenged > 0, "the server neither challenged nor dropped any flood packet");
    console.log(
      `  flood: ${summary.packetsPerSecond} packets/s sent; server answered/dropped ${challenged}`,
    );
  },
});

/** Counts what the server shed of a handshake flood, by class. */
function shed(r: StatusReport): number {
  return (r.counters.cookieReplies ?? 0) + drops(r, "cookieBudget") + drops(r, "handshakeQueue") +
    drops(r, "ratelimit");
}

Deno.test({
  ...opts,
  name: "tunnel:flood-data: a 40k packets/s handshake flood does not stop data: bytes every second",
  async fn() {
    const env = await tunnelEnv();
    const { topo } = env;
    const before = await env.serverStatus();
    // From client B's namespace (a neighbour), while client A's iperf runs.
    const attacker = topo.pytunnel(topo.clientB, [
      "attack",
      "flood",
      "--target",
      `${topo.serverIpB}:${PORT}`,
      "--server-key",
      env.keys.server.pub,
      "--count",
      "2000000",
      "--spoof-cidr",
      "10.200.0.0/16",
      "--rate",
      "40000",
    ], "flood");
    try {
      await until("flood to reach the server", async () => {
        return shed(await env.serverStatus()) - shed(before) > 5000;
      });
      const during = await env.serverStatus();
      const r = await iperf(topo, topo.server, topo.clientA, SERVER_TUN, 6);
      const after = await env.serverStatus();
      const exited = await Promise.race([attacker.status.then(() => true), Promise.resolve(false)]);
      assert(!exited, `the flood ended before the iperf did: ${attacker.stderr}`);
      assertEquals(r.error, undefined, r.error);
      const floodPackets = shed(after) - shed(during);
      console.log(
        `  during the flood: ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s; per second (MB): ` +
          r.intervals.map((b) => (b / 1e6).toFixed(1)).join(" ") +
          `; server shed ${floodPackets} flood packets ` +
          `(cookies ${counter(after, "cookieReplies") - counter(during, "cookieReplies")}, ` +
          `cookieBudget ${drops(after, "cookieBudget") - drops(during, "cookieBudget")}, ` +
          `handshakeQueue ${drops(after, "handshakeQueue") - drops(during, "handshakeQueue")}), ` +
          `unproven DH ${counter(after, "dhUnverified") - counter(during, "dhUnverified")}`,
      );
      assert(floodPackets > 10_000, `the flood hardly reached the server: ${floodPackets}`);
      assert(r.intervals.length >= 5, `iperf intervals: ${r.intervals}`);
      for (const [i, bytes] of r.intervals.entries()) {
        assert(bytes > 0, `no data moved in second ${i + 1} of the flood: ${r.intervals}`);
      }
    } finally {
      await attacker.stop();
    }
    const ping = await topo.ping(topo.clientA, SERVER_TUN, 3);
    assertEquals(ping.code, 0, ping.stdout);
  },
});

Deno.test({
  ...opts,
  name:
    "tunnel:status-auth: only root reads the status socket, and the report holds no private key",
  async fn() {
    const env = await tunnelEnv();
    const { topo } = env;
    assertEquals((Deno.statSync(env.serverSock).mode ?? 0) & 0o777, 0o600);
    const asNobody = () =>
      topo.run(topo.server, "setpriv", [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--unix-socket",
        env.serverSock,
        "http://localhost/status",
      ]);
    // The scratch directory is 0700: open it up so that only the socket's own mode decides.
    Deno.chmodSync(topo.dir, 0o711);
    try {
      const denied = await asNobody();
      assert(denied.code !== 0, `an unprivileged user read the status: ${denied.stdout}`);
      // Control: the same request succeeds once the socket is opened up.
      Deno.chmodSync(env.serverSock, 0o666);
      const allowed = await asNobody();
      assertEquals(allowed.stdout, "200", allowed.stderr);
    } finally {
      Deno.chmodSync(env.serverSock, 0o600);
      Deno.chmodSync(topo.dir, 0o700);
    }
    const text = JSON.stringify([await env.serverStatus(), await env.clientStatus(env.aSock)]);
    assert(text.includes(env.keys.a.pub), "the report lists the peers' public keys");
    for (const k of ["server", "a", "b", "c"] as const) {
      assert(!text.includes(env.keys[k].priv), `the report holds ${k}'s private key`);
    }
  },
});

Deno.test({
  ...opts,
  name: "tunnel:replay: every replayed and every tampered data packet is dropped and counted",
  async fn() {
    const env = await tunnelEnv();
    const { topo } = env;
    const count = 10;
    // Client B goes through a replaying relay in its own namespace for this test.
    await env.clientB.stop();
    const relay = topo.pytunnel(topo.clientB, [
      "attack",
      "replay",
      "--listen",
      "127.0.0.1:51999",
      "--target",
      `${topo.serverIpB}:${PORT}`,
      "--count",
      String(count),
      "--skip",
      "2",
    ], "replay relay");
    try {
      await relay.waitFor(/relaying/);
      env.writeClient("b-relay.yaml", env.keys.b.priv, "127.0.0.1:51999", "10.9.0.3", env.bSock);
      env.clientB = await env.startClient(topo.clientB, "b-relay.yaml");
      const before = await env.serverStatus();
      const ping = await topo.ping(topo.clientB, SERVER_TUN, 20, 0.05);
      await relay.waitFor(/"done":true/);
      await until("replay counters to settle", async () => {
        const s = await env.serverStatus();
        return drops(s, "replay") - drops(before, "replay") >= count &&
          drops(s, "auth") - drops(before, "auth") >= count;
      }, 5000).catch(() => {});
      const after = await env.serverStatus();
      assertEquals(drops(after, "replay") - drops(before, "replay"), count);
      assertEquals(drops(after, "auth") - drops(before, "auth"), count);
      // The originals still got through.
      assert(received(ping.stdout) >= 18, ping.stdout);
    } finally {
      await env.clientB.stop();
      await relay.stop();
      env.clientB = await env.startClient(topo.clientB, "b.yaml");
    }
  },
});

Deno.test({
  ...opts,
  name: "tunnel:acl: an unknown key, a wrong tunnel IP and a spoofed inner source are refused",
  async fn() {
    const env = await tunnelEnv();
    const { topo } = env;
    await env.clientB.stop();
    try {
      // 1. A key the server does not list: no session, no traffic.
      const stranger = newKeys();
      env.writeClient("x.yaml", stranger.priv, `${topo.serverIpB}:${PORT}`, "10.9.0.3");
      let before = await env.serverStatus();
      let client = await env.startClient(topo.clientB, "x.yaml", false);
      let ping = await topo.ping(topo.clientB, SERVER_TUN, 3);
      // Both sides say why, in one line (the client after its third try, 10 s).
      await env.server.waitFor(/handshake from \S+ failed: unknown client key/);
      await client.waitFor(/no reply from the server after 2 attempts: check server_public_key/);
      await client.stop();
      assertEquals(received(ping.stdout), 0, ping.stdout);
      let after = await env.serverStatus();
      assert(
        drops(after, "auth") + drops(after, "acl") > drops(before, "auth") + drops(before, "acl"),
        `unknown key not counted: ${JSON.stringify(after.drops)}`,
      );
      assertEquals(after.counters.handshakes, before.counters.handshakes);

      // 2. Peer c's key with an address that is not c's.
      env.writeClient("c-wrong.yaml", env.keys.c.priv, `${topo.serverIpB}:${PORT}`, "10.9.0.9");
      before = await env.serverStatus();
      client = await env.startClient(topo.clientB, "c-wrong.yaml");
      ping = await topo.ping(topo.clientB, SERVER_TUN, 3);
      await client.stop();
      assertEquals(received(ping.stdout), 0, ping.stdout);
      after = await env.serverStatus();
      assert(drops(after, "acl") > drops(before, "acl"), "wrong tunnel IP not counted as acl");

      // 3. Client A sends with an inner source address that is not its own.
      await topo.run(topo.clientA, "ip", ["addr", "add", "10.9.0.77/24", "dev", "pyt0"]);
      before = await env.serverStatus();
      ping = await topo.run(topo.clientA, "ping", [
        "-n",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "1",
        "-I",
        "10.9.0.77",
        SERVER_TUN,
      ]);
      await topo.run(topo.clientA, "ip", ["addr", "del", "10.9.0.77/24", "dev", "pyt0"]);
      assertEquals(received(ping.stdout), 0, ping.stdout);
      after = await env.serverStatus();
      assert(drops(after, "acl") - drops(before, "acl") >= 3, "spoofed inner source not dropped");
    } finally {
      env.clientB = await env.startClient(topo.clientB, "b.yaml");
    }
  },
});

Deno.test({
  ...opts,
  name:
    "tunnel:roam: client A moves to a new UDP source port (SIGHUP) mid-ping and the session continues",
  async fn() {
    const env = await tunnelEnv();
    const { topo } = env;
    const warm = await topo.ping(topo.clientA, SERVER_TUN, 1);
    assertEquals(warm.code, 0, warm.stdout);
    const endpoint = async () =>
      (await env.serverStatus()).peers.find((p) => p.name === "a")!.endpoint;
    const old = await endpoint();
    const pinging = topo.ping(topo.clientA, SERVER_TUN, 20, 0.1);
    await new Promise((r) => setTimeout(r, 700));
    env.clientA.child.kill("SIGHUP");
    const ping = await pinging;
    await env.clientA.waitFor(/rebound UDP socket/);
    const now = await endpoint();
    assert(now !== old && now?.startsWith(topo.clientIpA + ":"), `endpoint ${old} -> ${now}`);
    assert(received(ping.stdout) >= 18, ping.stdout);
    const after = await topo.ping(topo.clientA, SERVER_TUN, 3);
    assertEquals(after.code, 0, after.stdout);
  },
});

Deno.test({
  name: "tunnel:config: a bad server.yaml fails with one line naming the file and the field",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pyt-config-" });
    try {
      const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
      await Deno.writeTextFile(
        `${dir}/server.yaml`,
        `listen_port: 51820\nprivate_key: "${key}"\ntunnel_ip: 10.0.0.1/24\npeers:\n` +
          `  - { name: a, public_key: "${key}", tunnel_ip: 10.0.0.2 }\n` +
          `  - { name: b, public_key: "${key.replace("H", "I")}", tunnel_ip: 10.0.0.300 }\n`,
      );
      const out = await new Deno.Command(DENO, {
        args: runArgs("pytunnel", ["server", "-c", `${dir}/server.yaml`]),
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr).trim();
      assertEquals(out.code, 1);
      assertEquals(
        err,
        'pytunnel: server.yaml: peers[1].tunnel_ip: "10.0.0.300" is not an IPv4 address',
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  ...opts,
  name:
    "tunnel:ui: cli: the page shows its data as it loads (--dump-dom), counters move, Stop then Start at once",
  async fn() {
    const { chromium } = await import("playwright-core");
    const { CHROMIUM_ARGS } = await import("../web_proxy/chromium.ts");
    const env = await tunnelEnv();
    const { topo } = env;
    await env.clientB.stop();
    const ui = topo.pytunnel(topo.clientB, ["ui", "-c", `${topo.dir}/b.yaml`, "--start"], "ui");
    const profile = await Deno.makeTempDir({ prefix: "pyt-chromium-" });
    // Chromium must run in client B's namespace to reach its 127.0.0.1.
    const wrapper = topo.file(
      "chromium.sh",
      `#!/bin/sh\nexec ip netns exec ${topo.clientB} ${CHROMIUM} "$@"\n`,
      0o700,
    );
    let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    try {
      await ui.waitFor(/client started/);
      const url = /pytunnel ui: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(
        ui.stdout,
      )![1]!;
      ctx = await chromium.launchPersistentContext(profile, {
        executablePath: wrapper,
        headless: true,
        args: CHROMIUM_ARGS,
      });
      const page = await ctx.newPage();
      const res = await page.goto(url);
      assertEquals(res?.status(), 200);
      await page.waitForSelector("#state.running");
      const packets = async () => Number(await page.textContent("#c-packetsOut"));
      await page.waitForSelector("#c-packetsOut");
      const first = await packets();
      const ping = topo.ping(topo.clientB, SERVER_TUN, 10, 0.2);
      await until("the page's packet counter to move", async () => (await packets()) > first);
      assertEquals((await ping).code, 0);
      const cpu = await page.textContent("#cpu");
      assert(/%/.test(cpu ?? ""), `cpu cell: ${cpu}`);
      await page.click("#stop");
      await page.waitForSelector("#state.stopped");
      const down = await topo.ping(topo.clientB, SERVER_TUN, 1);
      assert(down.code !== 0, "ping still works after Stop");
      const log = await page.textContent("#log");
      assert(log?.includes("client stopped"), `log tail: ${log}`);
      // Start right after Stop: the interface is waited for, not reported busy.
      await page.click("#start");
      await page.waitForSelector("#state.running");
      assertEquals(await page.textContent("#error"), "");
      await ui.waitFor(/handshake with the server complete[^]*client stopped[^]*handshake with/);
      const up = await topo.ping(topo.clientB, SERVER_TUN, 2);
      assertEquals(up.code, 0, up.stdout);
      // The data is in the page as it loads, whatever the open log stream does.
      const dump = await topo.run(topo.clientB, CHROMIUM, [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        `--user-data-dir=${profile}-dump`,
        "--dump-dom",
        url,
      ]);
      assert(/id="c-packetsOut">\d+</.test(dump.stdout), `no counters in the DOM:\n${dump.stdout}`);
      assert(/<td>b<\/td>|<td>server<\/td>/.test(dump.stdout), "no peer row in the DOM");
      const refused = await page.goto(url.replace(/\?token=.*/, ""));
      assertEquals(refused?.status(), 403);
      const wrong = await page.goto(url.replace(/token=./, "token=z"));
      assertEquals(wrong?.status(), 403);
    } finally {
      await ctx?.close();
      await ui.stop();
      await Deno.remove(profile, { recursive: true });
      await Deno.remove(`${profile}-dump`, { recursive: true }).catch(() => {});
      env.clientB = await env.startClient(topo.clientB, "b.yaml");
    }
  },
});
