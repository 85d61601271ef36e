/**
 * `perm:` the release permission flags (tools/permissions.ts) are what `deno task compile`
 * bakes in, and each entry point does its job under exactly those flags and no more.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort, randomBytes } from "../../lib/testing/util.ts";
import { compilePlan, parseCompileArgs } from "../../tools/compile.ts";
import { BINARIES, DEV_TASKS, devTaskCommand, runArgs, TARGETS } from "../../tools/permissions.ts";
import { connectClient, echoThrough, startEcho } from "../server/ws_client.ts";
import { assertMatch, Binary, ptClientEnv } from "./binary.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const IS_ROOT_LINUX = Deno.build.os === "linux" && Deno.uid() === 0;

Deno.test("perm: deno task compile builds each binary for its targets with its flags", () => {
  const plan = compilePlan();
  const targetsOf = (b: string) => plan.filter((s) => s.binary === b).map((s) => s.target);
  const all = ["linux-x64", "linux-arm64", "macos-x64", "macos-arm64", "windows-x64"];
  assertEquals(targetsOf("client"), all);
  assertEquals(targetsOf("broker-proxy"), all);
  assertEquals(targetsOf("server"), all.slice(0, 4));
  assertEquals(targetsOf("pytunnel"), ["linux-x64", "linux-arm64"]);
  assertEquals(targetsOf("extor-static-cookie"), ["linux-x64", "linux-arm64"]);

  for (const step of plan) {
    for (const a of step.args) {
      // Nothing unscoped but the network and FFI; no -A.
      assert(
        !/^--allow-(read|write|env|run|sys|all)$|^-A$/.test(a),
        `${a} in ${step.output}`,
      );
    }
    const addon = step.args.filter((a) => a.startsWith("node_modules/"));
    const [os, arch] = step.target.split("-");
    const npmOs = { linux: "linux", macos: "darwin", windows: "win32" }[os!];
    const abi = { linux: "-gnu", macos: "", windows: "-msvc" }[os!];
    assertEquals(addon, [
      ...(BINARIES[step.binary]!.wrtc ? [`node_modules/@roamhq/wrtc-${npmOs}-${arch}`] : []),
      ...(BINARIES[step.binary]!.impit ? [`node_modules/impit-${npmOs}-${arch}${abi}`] : []),
      ...(BINARIES[step.binary]!.wreq
        ? [`node_modules/@wreq-js/binding-${npmOs}-${arch}${abi}`]
        : []),
    ]);
  }

  const line = (b: string, t: string) =>
    plan.find((s) => s.binary === b && s.target === t)!.args.join(" ");
  assertEquals(
    line("pytunnel", "linux-arm64"),
    "compile --no-check --target aarch64-unknown-linux-gnu --unstable-net --allow-net --allow-ffi " +
      "--allow-env=LOG_TOKENS,LOG_STREAM --ignore-env --allow-read=/etc/pytunnel,/run/pytunnel,/run/pytunnel.sock,/tmp " +
      "--allow-write=/etc/pytunnel,/run/pytunnel,/run/pytunnel.sock,/tmp --allow-run=ip " +
      "--output dist/linux-arm64/pytunnel pytunnel/main.ts",
  );
  assertEquals(
    line("client", "linux-x64"),
    "compile --no-check --target x86_64-unknown-linux-gnu --unstable-net --allow-net --allow-ffi " +
      "--allow-env=TOR_PT_MANAGED_TRANSPORT_VER,TOR_PT_CLIENT_TRANSPORTS,TOR_PT_PROXY," +
      "TOR_PT_STATE_LOCATION,TOR_PT_EXIT_ON_STDIN_CLOSE,HOME --ignore-env " +
      "--allow-read=/usr/bin/ldd " +
      "--allow-write=/var/lib/tor,/var/lib/tor-instances,/var/log/tor,/tmp " +
      "--allow-run=/proc/self/exe " +
      "--allow-sys=uid,homedir,osRelease --v8-flags=--max-semi-space-size=1,--max-opt=2 " +
      "--include node_modules/@roamhq/wrtc-linux-x64 --include node_modules/impit-linux-x64-gnu " +
      "--include node_modules/@wreq-js/binding-linux-x64-gnu " +
      "--output dist/linux-x64/client client/main.ts",
  );
  assertEquals(
    line("server", "linux-x64"),
    "compile --no-check --target x86_64-unknown-linux-gnu --unstable-net --allow-net --allow-ffi " +
      "--allow-env=TOR_PT_MANAGED_TRANSPORT_VER,TOR_PT_SERVER_TRANSPORTS,TOR_PT_SERVER_BINDADDR," +
      "TOR_PT_SERVER_TRANSPORT_OPTIONS,TOR_PT_ORPORT,TOR_PT_EXTENDED_SERVER_PORT," +
      "TOR_PT_AUTH_COOKIE_FILE,TOR_PT_STATE_LOCATION,TOR_PT_EXIT_ON_STDIN_CLOSE," +
      "WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE --ignore-env " +
      "--allow-read=/tmp/deno-compile-server/server,/tmp/deno-compile-server/lib,/var/lib/tor,/var/lib/tor-instances,/etc/snowflake,/var/lib/snowflake,/tmp " +
      "--allow-write=/var/lib/tor,/var/lib/tor-instances,/var/lib/snowflake,/var/log/snowflake," +
      "/var/log/tor,/tmp " +
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=30,--initial-old-space-size=64," +
      "--no-concurrent-recompilation,--no-concurrent-sparkplug,--no-concurrent-osr,--expose-gc " +
      "--include server/tunnel_worker.ts " +
      "--output dist/linux-x64/server server/main.ts",
  );
  assertEquals(
    line("broker-proxy", "linux-x64"),
    "compile --no-check --target x86_64-unknown-linux-gnu --unstable-net --allow-net --allow-ffi " +
      "--allow-env=AWS_*,HOME --ignore-env --allow-read=/tmp/deno-compile-broker-proxy/proxy/web/index.html," +
      "/tmp/deno-compile-broker-proxy/proxy/web/web-proxy.js,/etc/snowflake," +
      "/var/lib/snowflake,/tmp --allow-write=/var/lib/snowflake,/var/log/snowflake,/tmp " +
      "--allow-run=/proc/self/exe --allow-sys=uid,homedir,osRelease " +
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=20 --include proxy/web/index.html " +
      "--include proxy/web/web-proxy.js --include node_modules/@roamhq/wrtc-linux-x64 " +
      "--output dist/linux-x64/broker-proxy proxy/main.ts",
  );
  assertEquals(
    line("broker-proxy", "windows-x64"),
    "compile --no-check --target x86_64-pc-windows-msvc --unstable-net --allow-net --allow-ffi " +
      "--allow-env=AWS_*,HOME --ignore-env --allow-sys=uid,homedir,osRelease " +
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=20 " +
      "--include proxy/web/index.html " +
      "--include proxy/web/web-proxy.js --include node_modules/@roamhq/wrtc-win32-x64 " +
      "--output dist/windows-x64/broker-proxy.exe proxy/main.ts",
  );

  assertEquals(parseCompileArgs(["client", "--target", "linux-arm64", "--target=macos-x64"]), {
    binaries: ["client"],
    targets: ["linux-arm64", "macos-x64"],
  });
  assertEquals(Object.keys(TARGETS), all);
});

Deno.test("perm: the tests and dev tasks run with the compiled binaries' flags", async () => {
  const plan = compilePlan(undefined, ["linux-x64"]);
  for (const [name, spec] of Object.entries(BINARIES)) {
    const step = plan.find((s) => s.binary === name);
    if (!step || Deno.build.os !== "linux") continue;
    const compiled = step.args
      .slice(step.args.indexOf("--unstable-net"))
      .filter((a, i, all) =>
        !["--include", "--output"].includes(a) && !["--include", "--output"].includes(all[i - 1]!)
      )
      .slice(0, -1)
      // Only the embedded files' location differs: the binary's vfs, or this checkout.
      .map((a) => a.replaceAll(`/tmp/deno-compile-${name}`, ROOT));
    assertEquals(spec.flags, compiled, name);
    assertEquals(runArgs(name, ["x"]), ["run", ...compiled, `${ROOT}/${spec.entry}`, "x"]);
  }
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  for (const task of Object.keys(DEV_TASKS)) assertEquals(tasks[task], devTaskCommand(task), task);
});

Deno.test("perm: every binary answers --help and --version with exit 0", async () => {
  const cases: [string, string[], RegExp][] = [
    ["client", [], /^snowflake-client \S+/m],
    ["server", [], /^snowflake-server \S+/m],
    ["broker-proxy", [], /^broker-proxy \S+/m],
    ["broker-proxy", ["broker"], /^snowflake-broker \S+/m],
    ["broker-proxy", ["proxy"], /^snowflake-proxy \S+/m],
    ["pytunnel", [], /^pytunnel \S+/m],
  ];
  for (const [name, role, version] of cases) {
    for (const flag of ["--version", "-version"]) {
      const r = await Binary.run(name, [...role, flag]);
      assertEquals(r.code, 0, `${name} ${role} ${flag}: ${r.stderr}`);
      assertMatch(r.stdout + r.stderr, version);
    }
    for (const flag of ["--help", "-help", "-h"]) {
      const r = await Binary.run(name, [...role, flag]);
      assertEquals(r.code, 0, `${name} ${role} ${flag}: ${r.stderr}`);
      assertMatch(r.stdout + r.stderr, /usage/i);
    }
  }
});

for (const workers of [1, 2]) {
  const where = workers === 1 ? "" : " (num-turbotunnel=2: Workers)";
  Deno.test(`perm: the server serves a Turbo Tunnel stream, logs and keeps state under its flags${where}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "perm-server-" });
    const echo = startEcho();
    const port = freeTcpPort();
    const server = Binary.start("server", ["--disable-tls", "--log", `${dir}/server.log`], {
      env: {
        TOR_PT_MANAGED_TRANSPORT_VER: "1",
        TOR_PT_SERVER_TRANSPORTS: "snowflake",
        TOR_PT_SERVER_BINDADDR: `snowflake-127.0.0.1:${port}`,
        TOR_PT_ORPORT: `127.0.0.1:${echo.port}`,
        TOR_PT_STATE_LOCATION: `${dir}/pt_state/`,
        TOR_PT_SERVER_TRANSPORT_OPTIONS: `snowflake:num-turbotunnel=${workers}`,
      },
      stdin: "piped",
    });
    try {
      await server.waitFor(/SMETHODS DONE/);
      assertMatch(server.stdout, /^VERSION 1$/m);
      assertMatch(
        server.stdout,
        new RegExp(`^SMETHOD snowflake 127\\.0\\.0\\.1:${port}( |$)`, "m"),
      );
      const client = await connectClient(`ws://127.0.0.1:${port}/`);
      try {
        const data = randomBytes(100_000);
        const back = await echoThrough(client, data);
        assertEquals(back, data);
      } finally {
        client.close();
      }
    } finally {
      await server.stop();
      echo.close();
    }
    assertMatch(await Deno.readTextFile(`${dir}/server.log`), /snowflake-server \S+/);
    assertEquals(server.stderr.includes("NotCapable"), false, server.stderr);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("perm: broker, proxy and client rendezvous under their flags", async () => {
  const dir = await Deno.makeTempDir({ prefix: "perm-rendezvous-" });
  const bridges = `${dir}/bridge-list.jsonl`;
  await Deno.writeTextFile(
    bridges,
    JSON.stringify({
      displayName: "test",
      webSocketAddress: "ws://127.0.0.1:1",
      fingerprint: "2B280B23E1107BB62ABFC40DDCC8824814F80A72",
    }) + "\n",
  );
  const brokerPort = freeTcpPort();
  const brokerUrl = `http://127.0.0.1:${brokerPort}/`;
  const broker = Binary.start("broker-proxy", [
    "broker",
    "--addr",
    `127.0.0.1:${brokerPort}`,
    "--disable-tls",
    "--bridge-list-path",
    bridges,
    "--allowed-relay-pattern",
    "^127.0.0.1$",
    "--log",
    `${dir}/broker.log`,
  ]);
  let proxy: Binary | undefined;
  let client: Binary | undefined;
  try {
    await waitForHttp(`${brokerUrl}debug`, broker);
    proxy = Binary.start("broker-proxy", [
      "proxy",
      "--broker",
      brokerUrl,
      "--relay",
      "ws://127.0.0.1:1/",
      "--allow-non-tls-relay",
      "--allow-proxying-to-private-addresses",
      "--allowed-relay-hostname-pattern",
      "^127.0.0.1$",
      "--keep-local-addresses",
      "--stun",
      "stun:127.0.0.1:1",
      "--nat-probe-server",
      `${brokerUrl}probe`,
      "--log",
      `${dir}/proxy.log`,
    ]);
    // The proxy's poll is held by the broker: one snowflake available.
    await waitUntil(
      async () =>
        /current snowflakes available: 1/.test(await (await fetch(`${brokerUrl}debug`)).text()),
      proxy,
    );

    client = Binary.start(
      "client",
      ["-url", brokerUrl, "-ice", "stun:127.0.0.1:1", "-log", `${dir}/client.log`],
      {
        env: ptClientEnv(dir),
      },
    );
    const [, socksPort] = await client.waitFor(/^CMETHOD snowflake socks5 127\.0\.0\.1:(\d+)$/m);
    assertMatch(client.stdout, /^VERSION 1$/m);
    await client.waitFor(/^CMETHODS DONE$/m);
    // One SOCKS5 request: the client grants it and rendezvouses through the broker.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(socksPort) });
    try {
      await conn.write(new Uint8Array([5, 1, 0]));
      const hello = new Uint8Array(2);
      await readFull(conn, hello);
      assertEquals([...hello], [5, 0]);
      await conn.write(new Uint8Array([5, 1, 0, 1, 192, 0, 2, 3, 0, 80]));
      const reply = new Uint8Array(10);
      await readFull(conn, reply);
      assertEquals(reply[1], 0, "SOCKS reply: granted");
      await waitUntil(async () => {
        const prom = await (await fetch(`${brokerUrl}prometheus`)).text();
        return /^snowflake_rounded_client_poll_total\{[^}]*\} [1-9]/m.test(prom);
      }, client);
    } finally {
      conn.close();
    }
  } finally {
    await client?.stop();
    await proxy?.stop();
    await broker.stop();
  }
  for (const b of [broker, proxy!, client!]) {
    assertEquals(b.stderr.includes("NotCapable"), false, b.stderr);
  }
  assertMatch(await Deno.readTextFile(`${dir}/broker.log`), /snowflake-broker/);
  assertMatch(await Deno.readTextFile(`${dir}/proxy.log`), /\S/);
  assertMatch(await Deno.readTextFile(`${dir}/client.log`), /snowflake-client/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "perm: pytunnel makes keys, checks a config, serves its status socket under its flags",
  ignore: !IS_ROOT_LINUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "perm-pytunnel-" });
    const ns = `delivery-perm-${Deno.pid}`;
    const gen = await Binary.run("pytunnel", ["genkey", "--out", `${dir}/server.key`]);
    assertEquals(gen.code, 0, gen.stderr);
    const priv = (await Deno.readTextFile(`${dir}/server.key`)).trim();
    const pub = await Binary.run("pytunnel", ["pubkey"], { stdin: priv + "\n" });
    assertEquals(pub.code, 0, pub.stderr);
    assertMatch(pub.stdout.trim(), /^[A-Za-z0-9+/]{43}=$/);
    const peer = (await Binary.run("pytunnel", ["genkey"])).stdout.trim();
    const peerPub = (await Binary.run("pytunnel", ["pubkey"], { stdin: peer + "\n" })).stdout
      .trim();
    await Deno.writeTextFile(
      `${dir}/server.yaml`,
      [
        "listen_port: 51820",
        `private_key_file: ${dir}/server.key`,
        "tunnel_ip: 10.9.0.1/24",
        `status: ${dir}/status.sock`,
        "peers:",
        `  - { name: alice, public_key: "${peerPub}", tunnel_ip: 10.9.0.2 }`,
        "",
      ].join("\n"),
    );
    const check = await Binary.run("pytunnel", ["check", "-c", `${dir}/server.yaml`]);
    assertEquals(check.code, 0, check.stderr + check.stdout);

    await sh(["ip", "netns", "add", ns]);
    let server: Binary | undefined;
    try {
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      server = Binary.start("pytunnel", ["server", "-c", `${dir}/server.yaml`], {
        prefix: ["ip", "netns", "exec", ns],
      });
      await waitUntil(async () => {
        try {
          return (await Deno.stat(`${dir}/status.sock`)).isSocket === true;
        } catch {
          return false;
        }
      }, server);
      const status = await Binary.run("pytunnel", ["status", "--socket", `${dir}/status.sock`]);
      assertEquals(status.code, 0, status.stderr);
      assertMatch(status.stdout, /alice/);
    } finally {
      await server?.stop();
      await sh(["ip", "netns", "delete", ns]);
    }
    assertEquals(server!.stderr.includes("NotCapable"), false, server!.stderr);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("perm: a missing permission is refused with an error naming the flag", async () => {
  // The broker given a bridge list outside the directories it may read.
  const outside = await dirOutsideGrants("broker-proxy");
  try {
    await Deno.writeTextFile(`${outside}/bridge-list.jsonl`, "");
    const r = await Binary.run("broker-proxy", [
      "broker",
      "--disable-tls",
      "--addr",
      "127.0.0.1:0",
      "--bridge-list-path",
      `${outside}/bridge-list.jsonl`,
    ]);
    assert(r.code !== 0);
    assertMatch(
      r.stderr,
      /Requires read access to ".*bridge-list\.jsonl", run again with the --allow-read flag/,
    );
  } finally {
    await Deno.remove(outside, { recursive: true });
  }

  // The client asked to log outside the directories it may write to.
  const dir = await dirOutsideGrants("client");
  try {
    const r = await Binary.run("client", ["-socks", "127.0.0.1:0", "-log", `${dir}/client.log`]);
    assert(r.code !== 0);
    assertMatch(
      r.stderr,
      /Requires write access to ".*client\.log", run again with the --allow-write flag/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A new directory that none of `binary`'s --allow-read/--allow-write paths covers (a checkout under /tmp is covered). */
async function dirOutsideGrants(binary: string): Promise<string> {
  const granted = BINARIES[binary]!.flags
    .filter((f) => /^--allow-(read|write)=/.test(f))
    .flatMap((f) => f.slice(f.indexOf("=") + 1).split(","));
  const covered = (dir: string) => granted.some((g) => dir === g || dir.startsWith(`${g}/`));
  const base = [ROOT, "/var/tmp", Deno.env.get("HOME")].find((d) => d && !covered(d));
  if (!base) throw new Error(`no directory outside ${binary}'s grants: ${granted.join(",")}`);
  return await Deno.makeTempDir({ dir: base, prefix: ".perm-" });
}

async function sh(cmd: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stderr: "piped" })
    .output();
  if (code !== 0) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

async function readFull(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const n = await conn.read(buf.subarray(off));
    if (n === null) throw new Error(`EOF after ${off} of ${buf.length} bytes`);
    off += n;
  }
}

async function waitUntil(cond: () => Promise<boolean>, b: Binary, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out\nstdout:\n${b.stdout}\nstderr:\n${b.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitForHttp(url: string, b: Binary): Promise<void> {
  await waitUntil(async () => {
    try {
      await (await fetch(url)).body?.cancel();
      return true;
    } catch {
      return false;
    }
  }, b);
}

Deno.test("perm: the release workflow tests, then compiles every target with its addon and checksums", async () => {
  const { parse } = await import("yaml");
  const wf = parse(await Deno.readTextFile(`${ROOT}/.github/workflows/release.yml`));
  assertEquals(wf.on.push.tags, ["v*"]);
  assertEquals(wf.jobs.build.needs, "test");
  const run = (job: string) =>
    (wf.jobs[job].steps as { run?: string }[]).map((s) => s.run ?? "").join("\n");
  assertMatch(run("test"), /bash tools\/test\.sh/);
  assertMatch(run("build"), /^\s*deno task compile$/m);
  assertMatch(run("build"), /sha256sum \* > SHA256SUMS/);
  // Every target's addon package is fetched before compiling.
  const [wrtc, impit, wreq] = [...run("build").matchAll(/for platform in ([^;]+);/g)].map((m) =>
    m[1]!.trim().split(/\s+/)
  );
  assertEquals(
    wrtc!.map((p) => `@roamhq/wrtc-${p}`).sort(),
    Object.values(TARGETS).map((t) => t.wrtc).sort(),
  );
  assertEquals(
    impit!.map((p) => `impit-${p}`).sort(),
    Object.values(TARGETS).map((t) => t.impit).sort(),
  );
  assertEquals(
    wreq!.map((p) => `@wreq-js/binding-${p}`).sort(),
    Object.values(TARGETS).map((t) => t.wreq).sort(),
  );
  assertEquals(wf.permissions, { contents: "read" });
  assertEquals(wf.jobs.build.permissions, { contents: "write" });
});
