/**
 * `multipath: one proxy frozen` one of the three proxies of a `--max 3` session freezes
 * (SIGSTOP: its kernel keeps acknowledging the server's TCP until its receive window closes) in
 * the middle of an unpaced download, with two more proxies at the broker. The server's socket to
 * the frozen proxy must stop taking the session's batches after about one batch waits unsent
 * there (TCP_NOTSENT_LOWAT), rather than after an autotuned send buffer of MBs, into which KCP's
 * resends kept going for seconds; the file must arrive intact. What the server wrote to the
 * frozen proxy after the freeze, when it stopped, and the longest stall are printed.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain, ONE_CLIENT, SERVER_PORT } from "./chain.ts";
import { CAN_NETNS, waitUntil } from "./netns.ts";

/** Unsent bytes the server's kernel may hold for a frozen proxy: a few 64 KiB batches. */
const MAX_NOT_SENT = 256 * 1024;

/** The server's TCP socket to the proxy at local `port` of namespace b, from `ss -ti` in a. */
async function serverSocket(chain: Chain, port: number) {
  const out = await chain.net.exec(chain.net.a, [
    "ss",
    "-tinH",
    "src",
    `${chain.net.ipA}:${SERVER_PORT}`,
    "dst",
    `${chain.net.ipB}:${port}`,
  ]);
  const acked = Number(/bytes_acked:(\d+)/.exec(out)?.[1] ?? 0);
  const notSent = Number(/notsent:(\d+)/.exec(out)?.[1] ?? 0);
  const sendQ = Number(/^\S+\s+\d+\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { written: acked + sendQ, notSent };
}

Deno.test({
  name: "multipath: one proxy of three frozen, the server stops feeding it after a batch",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const size = 100_000_000;
    const chain = await Chain.start({ subnet: 75, fileSize: size });
    let frozen = 0;
    try {
      for (let i = 0; i < 5; i++) chain.ourProxy(ONE_CLIENT);
      await chain.waitForProxies(5, 90_000);
      const client = await chain.ourClient(["--max", "3"]);
      let done = false;
      const fetching = chain.fetch(client.port).finally(() => (done = true));
      await waitUntil(async () => (await chain.carryingProxyPids()).length === 3, 60_000);
      const before = await chain.proxyBytesFromServer();
      const tBefore = performance.now();
      await waitUntil(
        async () => (await chain.proxyBytesFromServer()) - before > 15_000_000,
        60_000,
      );
      const pid = (await chain.busiestProxyPid())!;
      const ss = await chain.net.exec(chain.net.b, [
        "ss",
        "-tnpH",
        "dst",
        `${chain.net.ipA}:${SERVER_PORT}`,
      ]);
      const line = ss.split("\n").find((l) => l.includes(`pid=${pid},`)) ?? "";
      const port = Number(
        new RegExp(`${chain.net.ipB.replaceAll(".", "\\.")}:(\\d+)`).exec(line)?.[1],
      );
      assert(port > 0, `the frozen proxy's socket to the server: ${ss}`);
      const start = await serverSocket(chain, port);
      const atFreeze = await chain.proxyBytesFromServer();
      Deno.kill(pid, "SIGSTOP");
      frozen = pid;
      const t0 = performance.now();
      const rateBefore = (atFreeze - before) / ((t0 - tBefore) / 1000);
      let rateAfter = 0;
      let last = start;
      let stoppedAt = 0;
      let maxNotSent = 0;
      while (!done) {
        await new Promise((r) => setTimeout(r, 250));
        const s = await serverSocket(chain, port);
        const t = (performance.now() - t0) / 1000;
        if (s.written > last.written) stoppedAt = t;
        maxNotSent = Math.max(maxNotSent, s.notSent);
        last = s;
        if (rateAfter === 0 && t >= 3) {
          rateAfter = ((await chain.proxyBytesFromServer()) - atFreeze) / t;
        }
      }
      const got = await fetching;
      console.log(
        `${size / 1e6} MB unpaced, one of 3 proxies frozen midway: ${got.seconds.toFixed(1)} s, ` +
          `longest stall ${got.longestStall.toFixed(2)} s, stalls ${JSON.stringify(got.histogram)}`,
      );
      console.log(
        `the server wrote ${((last.written - start.written) / 1e3).toFixed(0)} kB to the frozen ` +
          `proxy after the freeze, the last of it ${stoppedAt.toFixed(2)} s after; at most ` +
          `${(maxNotSent / 1e3).toFixed(0)} kB waited unsent in its kernel; the proxies received ` +
          `${(rateBefore / 1e6).toFixed(1)} MB/s before the freeze, ` +
          `${rateAfter ? (rateAfter / 1e6).toFixed(1) : "?"} MB/s in the 3 s after`,
      );
      const log = await Deno.readTextFile(client.log);
      console.log(log.split("\n").filter((l) => /failover|lost/.test(l)).join("\n"));
      assertEquals(got.bytes, size);
      assertEquals(got.sha256, chain.fileSha256);
      assert(
        maxNotSent <= MAX_NOT_SENT,
        `the server kept feeding the frozen proxy: ${maxNotSent} bytes unsent in its kernel`,
      );
    } finally {
      if (frozen) Deno.kill(frozen, "SIGCONT");
      await chain.stop();
    }
  },
});
