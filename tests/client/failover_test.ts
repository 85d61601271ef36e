/**
 * `e2e:client-failover` a dead proxy is detected and replaced without losing the session:
 * a paced 10 MB download through our client (`--max 1`) over our proxy; midway that proxy
 * is killed (SIGKILL) while Debian's proxy waits at the broker; the download completes
 * intact over the replacement. The longest stall is printed (a figure, not asserted).
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { CAN_NETNS, waitUntil } from "./netns.ts";

Deno.test({
  name: "e2e:client-failover the session survives the death of its proxy (--max 1)",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 32, fileSize: 10_000_000 });
    try {
      chain.ourProxy();
      const client = await chain.ourClient(["--unsafe-logging"]);
      const fetching = chain.fetch(client.port, 1_000_000);
      await waitUntil(() => /using proxy/.test(Deno.readTextFileSync(client.log)), 60_000);
      chain.debianProxy();
      await new Promise((r) => setTimeout(r, 3000));
      const busy = await chain.busiestProxyPid();
      if (busy === null) throw new Error("no proxy carries the session");
      Deno.kill(busy, "SIGKILL");
      const killedAt = Date.now();
      const got = await fetching;
      console.log(
        `killed the proxy carrying the session (pid ${busy}) at ${
          new Date(killedAt).toISOString()
        }`,
      );
      console.log(
        `10 MB paced at 1 MB/s, proxy killed midway: ${got.seconds.toFixed(1)} s, ` +
          `longest stall ${got.longestStall.toFixed(1)} s, stalls ${JSON.stringify(got.histogram)}`,
      );
      assertEquals(got.bytes, chain.fileSize);
      assertEquals(got.sha256, chain.fileSha256);
      const log = await Deno.readTextFile(client.log);
      console.log(log.split("\n").filter((l) => /proxy|closing|ICE|stale/.test(l)).join("\n"));
    } finally {
      await chain.stop();
    }
  },
});
