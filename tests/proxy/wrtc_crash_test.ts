/**
 * `wrtc-crash:` the proxy keeps its WebRTC in a host process too (docs/PROXY.md "WebRTC in a
 * host process"): it writes to clients' channels, which clients close, and @roamhq/wrtc 0.10.0
 * dies by SIGSEGV when a write races the remote's close (docs/client.md "WebRTC in a process of
 * its own"; tests/client/wrtc_crash_test.ts shows the crash in-process).
 * - The race on a local pair with the proxy's role (the far side opens and closes the channel,
 *   tests/client/wrtc_send_race.ts `answerer`) kills hosts, which are replaced, never the writer,
 *   and a last 8 MiB arrive intact.
 * - The proxy binary in the chain, its host killed during a download: the proxy lives on, takes
 *   the client again with a new host, and the file arrives intact.
 *
 * Hosts are killed with SIGKILL: V8's signal handler swallows a SIGSEGV sent by kill(2).
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "../client/chain.ts";
import { CAN_NETNS, DENO, ROOT, waitUntil, webrtcHostOf } from "../client/netns.ts";

const RACE = `${ROOT}/tests/client/wrtc_send_race.ts`;

Deno.test({
  name: "wrtc-crash: proxy: a write racing the client's close kills hosts, never the proxy",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const crashes: number[] = [];
    for (let run = 0; run < 3 && crashes.reduce((a, b) => a + b, 0) === 0; run++) {
      const out = await new Deno.Command(DENO, {
        args: ["run", "--allow-all", RACE, "isolated", "150", "16384", "answerer"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals([out.signal, out.code], [null, 0], new TextDecoder().decode(out.stderr));
      const s = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
      assertEquals(s.writeErrors, 150, "every write after the close failed cleanly");
      assert(s.intact, "the last 8 MiB arrived intact");
      for (const end of s.hostEnds) assert(/\(SIGSEGV\)/.test(end), end);
      crashes.push(s.hostEnds.length);
    }
    console.log(`proxy hosts ended by SIGSEGV in runs of 150 trials: ${crashes.join(", ")}`);
    assert(crashes.some((n) => n > 0), "the race was hit");
  },
});

Deno.test({
  name: "wrtc-crash: the proxy binary outlives its WebRTC host's death mid-download",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 77, fileSize: 20_000_000 });
    try {
      // One proxy: the client can only get it back.
      const proxy = chain.ourProxy();
      const proxyLog = `${chain.net.dir}/our-proxy0-safe.log`;
      const client = await chain.ourClient(["--max", "1"]);
      const fetching = chain.fetch(client.port, 1_000_000);
      await waitUntil(() => /using proxy/.test(Deno.readTextFileSync(client.log)), 60_000);
      // Well before the end: the client's smux window holds 4 MiB beyond what it has read.
      await new Promise((r) => setTimeout(r, 2000));
      const host = webrtcHostOf(proxy.pid);
      assert(host !== null, "the proxy runs a WebRTC host process");
      Deno.kill(host, "SIGKILL");
      let fetched = false;
      const [got] = await Promise.all([
        fetching.finally(() => fetched = true),
        waitUntil(() => fetched, 300_000, () => proxy.death()),
      ]);
      console.log(
        `20 MB paced at 1 MB/s, the proxy's WebRTC host killed midway: ` +
          `${got.seconds.toFixed(1)} s, longest stall ${got.longestStall.toFixed(1)} s`,
      );
      assertEquals(got.bytes, chain.fileSize);
      assertEquals(got.sha256, chain.fileSha256);
      const log = await Deno.readTextFile(proxyLog);
      assert(
        new RegExp(`WebRTC host process ${host} ended \\(SIGKILL\\); [1-9]\\d* peer`).test(log),
        log,
      );
      assert((log.match(/client connected/g) ?? []).length >= 2, `served once only:\n${log}`);
      const next = webrtcHostOf(proxy.pid);
      assert(next !== null && next !== host, "a new host carries the next client");
    } finally {
      await chain.stop();
    }
  },
});
