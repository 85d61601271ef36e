/**
 * scale: the server's standalone mode (PT environment from flags or a config file) and the
 * static ExtORPort cookie relay, on loopback with a fake tor ExtORPort that checks tor's
 * cookie (the real tors are in tests/e2e/scale_test.ts).
 */
import { assert, assertEquals, assertRejects } from "../../lib/testing/assert.ts";
import { dialOr, parseAuthCookie } from "../../lib/pt/extorport.ts";
import { runArgs } from "../../tools/permissions.ts";
import { parseStandaloneConfig, standaloneEnv } from "../../server/standalone.ts";
import { acceptSafeCookie, createCookieFile } from "../../server/static_cookie.ts";
import { spawnServer } from "./spawn.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("scale: standalone config file and flags make the PT environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/server.conf`,
      "# a bridge site\nlisten 0.0.0.0:443\nextorport 127.0.0.1:10000\n" +
        "auth-cookie /etc/snowflake/cookie\ntransport-options num-turbotunnel=2;orport-srcaddr=127.0.2.0/24\n",
    );
    const env = (await standaloneEnv({ config: `${dir}/server.conf`, listen: "127.0.0.1:8443" }))!;
    assertEquals(env("TOR_PT_SERVER_BINDADDR"), "snowflake-127.0.0.1:8443");
    assertEquals(env("TOR_PT_EXTENDED_SERVER_PORT"), "127.0.0.1:10000");
    assertEquals(env("TOR_PT_AUTH_COOKIE_FILE"), "/etc/snowflake/cookie");
    assertEquals(
      env("TOR_PT_SERVER_TRANSPORT_OPTIONS"),
      "snowflake:num-turbotunnel=2;snowflake:orport-srcaddr=127.0.2.0/24",
    );
    assertEquals(env("TOR_PT_EXIT_ON_STDIN_CLOSE"), undefined);
    assertEquals(await standaloneEnv({}), null);
    let err = "";
    try {
      parseStandaloneConfig("listen 1.2.3.4:1\nlisen 1.2.3.4:2\n", "x.conf");
    } catch (e) {
      err = (e as Error).message;
    }
    assertEquals(err, "x.conf:2: unknown key lisen");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scale: the standalone server prints SMETHOD lines without tor", opts, async () => {
  const p = spawnServer({}, [
    "--disable-tls",
    "--listen",
    "127.0.0.1:0",
    "--orport",
    "127.0.0.1:9",
  ]);
  try {
    const lines = await p.waitFor(/^SMETHODS DONE$/);
    assertEquals(lines[0], "VERSION 1");
    assert(/^SMETHOD snowflake 127\.0\.0\.1:\d+ ARGS:tls=no$/.test(lines[1]!), lines[1]);
    p.kill("SIGTERM");
    assertEquals((await p.status).code, 0);
  } finally {
    p.kill("SIGKILL");
  }
});

Deno.test("scale: gen-cookie writes a tor-format cookie file and never overwrites one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: runArgs("extor-static-cookie", ["gen-cookie", `${dir}/cookie`]),
        cwd: ROOT,
        stderr: "piped",
      }).output();
    assertEquals((await run()).code, 0);
    const file = await Deno.readFile(`${dir}/cookie`);
    assertEquals(parseAuthCookie(file).length, 32);
    assertEquals((await Deno.stat(`${dir}/cookie`)).mode! & 0o777, 0o640);
    assertEquals((await run()).code, 1);
    assertEquals(await Deno.readFile(`${dir}/cookie`), file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scale: acceptSafeCookie admits the right cookie only", opts, async () => {
  const dir = await Deno.makeTempDir();
  await createCookieFile(`${dir}/right`);
  await createCookieFile(`${dir}/wrong`);
  const cookie = parseAuthCookie(await Deno.readFile(`${dir}/right`));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const results: boolean[] = [];
  const serving = (async () => {
    for await (const c of listener) {
      results.push(await acceptSafeCookie(c, cookie).catch(() => false));
      c.close();
    }
  })();
  try {
    const target = (path: string) => ({
      orAddr: null,
      extendedOrAddr: { hostname: "127.0.0.1", port: listener.addr.port },
      cookie: null,
      cookiePath: path,
    });
    // Past authentication our acceptor closes: the client fails at the commands.
    await assertRejects(() => dialOr(target(`${dir}/right`), { transport: "snowflake" }));
    await assertRejects(() => dialOr(target(`${dir}/wrong`), { transport: "snowflake" }));
    while (results.length < 2) await new Promise((r) => setTimeout(r, 10));
    assertEquals(results, [true, false]);
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
