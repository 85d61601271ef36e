import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { ifreq, validateIfName } from "../../lib/tunnel/tun_linux.ts";
import { IS_ROOT } from "./netns.ts";

const DENO = Deno.execPath();
const FIXTURE = new URL("./fixtures/tun_echo.ts", import.meta.url).pathname;
const FLAGS = ["run", "--allow-ffi", "--allow-run", "--allow-read", FIXTURE];

Deno.test("codec: ifreq carries the name and IFF_TUN|IFF_NO_PI little-endian at offset 16", () => {
  const r = ifreq("pyt0", 0x1001);
  assertEquals(r.length, 40);
  assertEquals([...r.subarray(0, 5)], [0x70, 0x79, 0x74, 0x30, 0]);
  assertEquals([r[16], r[17]], [0x01, 0x10]);
  validateIfName("pyt-a.b_c");
  for (const bad of ["", "a/b", "has space", "x".repeat(16), "a:b"]) {
    let threw = false;
    try {
      validateIfName(bad);
    } catch {
      threw = true;
    }
    assert(threw, `accepted ${JSON.stringify(bad)}`);
  }
});

Deno.test({
  name: "tunnel:tun: a TUN device in a namespace reads pings and writes replies",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const ns = `pyt-tun-${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}`;
    const sh = (args: string[]) => new Deno.Command("ip", { args }).outputSync();
    sh(["netns", "add", ns]);
    let child: Deno.ChildProcess | undefined;
    try {
      child = new Deno.Command("ip", {
        args: ["netns", "exec", ns, DENO, ...FLAGS, "pyt0", "10.99.0.1/24", "3"],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assert(out.includes("ready pyt0 mtu 1400"), out);
      const ping = new Deno.Command("ip", {
        args: ["netns", "exec", ns, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.99.0.2"],
        stdout: "piped",
      }).outputSync();
      const text = new TextDecoder().decode(ping.stdout);
      assert(text.includes("3 received"), text);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assert(/closed ClosedError/.test(out), out);
      assertEquals((await child.status).code, 0);
      child = undefined;
    } finally {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
      }
      sh(["netns", "del", ns]);
    }
  },
});

Deno.test({
  name: "tunnel:tun: without CAP_NET_ADMIN the error is one plain line, no stack trace",
  ignore: !IS_ROOT,
  async fn() {
    const denoDir = await Deno.makeTempDir({ prefix: "pyt-denodir-" });
    try {
      await Deno.chmod(denoDir, 0o777);
      const out = await new Deno.Command("setpriv", {
        args: ["--reuid=65534", "--regid=65534", "--clear-groups", DENO, ...FLAGS, "pyt0"],
        env: { DENO_DIR: denoDir, HOME: denoDir, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr).trim();
      assertEquals(out.code, 1);
      assert(/^error: .*(root or with CAP_NET_ADMIN)/.test(err), err);
      assert(!err.includes(" at "), err);
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  },
});
