/**
 * `multipath: all paths silent` a `--max 2` session whose two proxies freeze at once (SIGSTOP:
 * their ICE stays up until its consent checks time out, so only the whole-session silence rule
 * can help quickly) in the middle of an unpaced download, with three more proxies waiting at
 * the broker. The client must rendezvous a spare beside the silent paths; the file must arrive
 * intact. The longest stall (no bytes delivered to the reader) is printed, not asserted.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain, ONE_CLIENT } from "./chain.ts";
import { CAN_NETNS, waitUntil } from "./netns.ts";

Deno.test({
  name: "multipath: all paths silent at once, a spare is rendezvoused and the download completes",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const size = 150_000_000;
    const chain = await Chain.start({ subnet: 73, fileSize: size });
    const frozen: number[] = [];
    try {
      // Two for the session, one for the spare, two to replace the frozen ones.
      for (let i = 0; i < 5; i++) chain.ourProxy(ONE_CLIENT);
      await chain.waitForProxies(5, 90_000);
      const client = await chain.ourClient(["--max", "2"]);
      const fetching = chain.fetch(client.port);
      await waitUntil(async () => (await chain.carryingProxyPids()).length === 2, 60_000);
      console.log(`${new Date().toISOString()} both paths carry the session`);
      const before = await chain.proxyBytesFromServer();
      await waitUntil(
        async () => (await chain.proxyBytesFromServer()) - before > 20_000_000,
        60_000,
      );
      const victims = await chain.carryingProxyPids();
      assertEquals(victims.length, 2, "both paths are up when the proxies freeze");
      for (const pid of victims) {
        Deno.kill(pid, "SIGSTOP");
        frozen.push(pid);
      }
      const frozeAt = new Date();
      const got = await fetching;
      for (const pid of frozen.splice(0)) Deno.kill(pid, "SIGCONT");
      const log = await Deno.readTextFile(client.log);
      console.log(`froze proxies ${victims.join(", ")} at ${frozeAt.toISOString()}`);
      console.log(
        log.split("\n").filter((l) => /failover|lost|connected \[|closed \[/.test(l)).join("\n"),
      );
      console.log(
        `${size / 1e6} MB unpaced, both proxies frozen midway: ${got.seconds.toFixed(1)} s, ` +
          `longest stall ${got.longestStall.toFixed(2)} s, stalls ${JSON.stringify(got.histogram)}`,
      );
      assertEquals(got.bytes, size);
      assertEquals(got.sha256, chain.fileSha256);
      assert(/failover: all 2 proxies silent/.test(log), "the silence was noticed");
      assert(/failover: spare up/.test(log), "a spare was rendezvoused");
    } finally {
      for (const pid of frozen) Deno.kill(pid, "SIGCONT");
      await chain.stop();
    }
  },
});
