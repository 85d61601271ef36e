/**
 * `pt-proxy:` the client under tor's PT protocol with TOR_PT_PROXY pointing at a real local
 * proxy (Debian's dante-server for socks5, tinyproxy for http). WebRTC (ICE over UDP)
 * cannot be sent through such a proxy with @roamhq/wrtc, so the client refuses with
 * PROXY-ERROR and exits instead of leaking traffic around it (README: TOR_PT_PROXY): no
 * CMETHOD, and the proxy sees no connection. Without TOR_PT_PROXY the same launch prints
 * the CMETHOD line.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { launchPtClient } from "./pt_launch.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function runPt(proxy: string | null): Promise<{ code: number; stdout: string }> {
  const state = await Deno.makeTempDir({ prefix: "sfclient-pt-" });
  const pt = await launchPtClient({
    args: ["-url", "http://127.0.0.1:1/"],
    cwd: ROOT,
    state,
    env: { TOR_PT_CLIENT_TRANSPORTS: "snowflake,obfs4", ...(proxy ? { TOR_PT_PROXY: proxy } : {}) },
    until: /CMETHODS DONE|PROXY-ERROR/,
  });
  await pt.child.stdin.close(); // TOR_PT_EXIT_ON_STDIN_CLOSE: this is tor going away
  const stdout = pt.stdout + await pt.rest;
  const { code } = await pt.child.status;
  await Deno.remove(state, { recursive: true });
  return { code, stdout };
}

/** Runs `cmd` (a proxy daemon on 127.0.0.1:`port`) around `fn`; kills it by pid after. */
async function withDaemon(cmd: string[], port: number, fn: () => Promise<void>): Promise<void> {
  const proc = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 100; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await fn();
  } finally {
    proc.kill("SIGTERM");
    await proc.status;
  }
}

Deno.test("pt-proxy: without TOR_PT_PROXY the client offers its SOCKS method", async () => {
  const r = await runPt(null);
  assert(/^VERSION 1$/m.test(r.stdout), r.stdout);
  assert(/^CMETHOD-ERROR obfs4 no such method$/m.test(r.stdout), r.stdout);
  assert(/^CMETHOD snowflake socks5 127\.0\.0\.1:\d+$/m.test(r.stdout), r.stdout);
  assert(/^CMETHODS DONE$/m.test(r.stdout), r.stdout);
  assertEquals(r.code, 0);
});

Deno.test({
  name: "pt-proxy: a SOCKS5 TOR_PT_PROXY (dante) is refused with PROXY-ERROR, nothing sent",
  ignore: Deno.uid() !== 0,
  async fn() {
    const port = freeTcpPort();
    const dir = await Deno.makeTempDir({ prefix: "sfclient-dante-" });
    await Deno.writeTextFile(
      `${dir}/sockd.conf`,
      [
        `logoutput: ${dir}/dante.log`,
        `internal: 127.0.0.1 port = ${port}`,
        "external: 127.0.0.1",
        "clientmethod: none",
        "socksmethod: none",
        "user.privileged: root",
        "user.unprivileged: nobody",
        "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 log: connect }",
        "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 log: connect }",
        "",
      ].join("\n"),
    );
    await withDaemon(["danted", "-f", `${dir}/sockd.conf`, "-N", "1"], port, async () => {
      const r = await runPt(`socks5://127.0.0.1:${port}`);
      assert(
        /^PROXY-ERROR socks5 proxy not supported: WebRTC traffic cannot go through it/m.test(
          r.stdout,
        ),
        r.stdout,
      );
      assert(!/^CMETHOD /m.test(r.stdout), r.stdout);
      assertEquals(r.code, 1);
      const log = await Deno.readTextFile(`${dir}/dante.log`).catch(() => "");
      assert(!/pass\(1\): tcp\/connect/.test(log), log);
      console.log(
        `dante saw ${log.split("\n").filter((l) => /connect/.test(l)).length} connections`,
      );
    });
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "pt-proxy: an HTTP TOR_PT_PROXY (tinyproxy) is refused with PROXY-ERROR too",
  async fn() {
    const port = freeTcpPort();
    const dir = await Deno.makeTempDir({ prefix: "sfclient-tinyproxy-" });
    await Deno.writeTextFile(
      `${dir}/tinyproxy.conf`,
      [
        `Port ${port}`,
        "Listen 127.0.0.1",
        `LogFile "${dir}/tinyproxy.log"`,
        "LogLevel Connect",
        "Allow 127.0.0.1",
        "",
      ].join("\n"),
    );
    await withDaemon(["tinyproxy", "-d", "-c", `${dir}/tinyproxy.conf`], port, async () => {
      const r = await runPt(`http://127.0.0.1:${port}`);
      assert(/^PROXY-ERROR http proxy not supported/m.test(r.stdout), r.stdout);
      assertEquals(r.code, 1);
      const log = await Deno.readTextFile(`${dir}/tinyproxy.log`).catch(() => "");
      assert(!/Request \(/.test(log), log); // only the readiness probe connected
    });
    await Deno.remove(dir, { recursive: true });
  },
});
