/**
 * `memory:` lib/process/resident_memory.ts finds the right mappings, and the client and the
 * proxy, run with their release flags (tools/permissions.ts), really drop their start-up pages
 * (their log says how many MB). Loopback only; figures belong in the benchmarks
 * (tests/bench/client_bench.ts, proxy_bench.ts), so no memory size is asserted.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { cleanFileMappings } from "../../lib/process/resident_memory.ts";
import { runArgs } from "../../tools/permissions.ts";
import { freeTcpPort, terminate } from "../../lib/testing/util.ts";
import { sleep } from "../../lib/net/sleep.ts";
import { withClient } from "../client/standalone_client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DROPPED = /resident memory: dropped (\d+\.\d) MB of start-up file pages, malloc trimmed/;
const onGlibcLinux = Deno.build.os === "linux" && Deno.build.env === "gnu";

const SMAPS = `\
5600a0000000-5600a1000000 r--p 00000000 fe:00 42        /usr/bin/deno
Rss:                1024 kB
Anonymous:             0 kB
5600a1000000-5600a2000000 r-xp 01000000 fe:00 42        /usr/bin/deno
Size:              16384 kB
Rss:                2048 kB
Anonymous:             0 kB
5600a2000000-5600a2100000 r--p 02000000 fe:00 42        /usr/bin/deno
Rss:                 512 kB
Anonymous:           256 kB
5600a2100000-5600a2200000 rw-p 02100000 fe:00 42        /usr/bin/deno
Rss:                 512 kB
Anonymous:           512 kB
7f0000000000-7f0000100000 r--p 00000000 00:00 0
Rss:                 128 kB
Anonymous:           128 kB
7f0000100000-7f0000200000 r--p 00000000 fe:00 43        /usr/lib/never-touched.so
Rss:                   0 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 fe:00 44        /usr/lib/libc.so.6
Rss:                 900 kB
Anonymous:             0 kB
`;

Deno.test("memory: only read-only file mappings with no private page are dropped", () => {
  const found = cleanFileMappings(SMAPS).map((m) => ({
    start: m.start.toString(16),
    length: Number(m.length),
    rssKiB: m.rssKiB,
  }));
  assertEquals(found, [
    { start: "5600a0000000", length: 0x1000000, rssKiB: 1024 },
    { start: "5600a1000000", length: 0x1000000, rssKiB: 2048 },
    { start: "7f0000200000", length: 0x100000, rssKiB: 900 },
  ]);
});

Deno.test({
  name: "memory: the client binary drops its start-up pages",
  ignore: !onGlibcLinux,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withClient(["--ice", `stun:127.0.0.1:${freeTcpPort()}`], async (_port, log) => {
      for (let i = 0; i < 100 && !DROPPED.test(log()); i++) await sleep(100);
      const mb = Number(DROPPED.exec(log())?.[1]);
      assert(mb > 0, `no start-up pages dropped:\n${log()}`);
    }),
});

Deno.test({
  name: "memory: the proxy binary drops its start-up pages",
  ignore: !onGlibcLinux,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sfproxy-memory-" });
    const nowhere = `http://127.0.0.1:${freeTcpPort()}/`;
    const child = new Deno.Command(Deno.execPath(), {
      args: runArgs("broker-proxy", [
        "proxy",
        "-broker",
        nowhere,
        "-nat-probe-server",
        `${nowhere}probe`,
        "-stun",
        "",
        "-log",
        `${dir}/proxy.log`,
      ]),
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const log = () => {
      try {
        return Deno.readTextFileSync(`${dir}/proxy.log`);
      } catch {
        return "";
      }
    };
    try {
      for (let i = 0; i < 300 && !DROPPED.test(log()); i++) await sleep(100);
      const mb = Number(DROPPED.exec(log())?.[1]);
      assert(mb > 0, `no start-up pages dropped:\n${log()}`);
    } finally {
      await terminate(child, 10_000);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
