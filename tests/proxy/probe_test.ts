import { assert } from "../../lib/testing/assert.ts";
import { runArgs } from "../../tools/permissions.ts";
import { spawnBroker } from "../broker/spawn.ts";
import { CAN_NETNS, DENO, Netns } from "./netns.ts";

Deno.test({
  name: "probe: our proxy's NAT probe against our broker's /probe says unrestricted, and retests",
  ignore: !CAN_NETNS,
  async fn() {
    const ns = await Netns.create();
    const broker = await spawnBroker([], {
      hostname: ns.a,
      cmdPrefix: ["ip", "netns", "exec", ns.name],
    });
    let log = "";
    const proxy = ns.spawn([
      DENO,
      ...runArgs("broker-proxy", [
        "proxy",
        "-broker",
        broker.url,
        "-nat-probe-server",
        `${broker.url}probe`,
        "-nat-retest-interval",
        "3s",
        "-stun",
        "",
      ]),
    ]);
    try {
      const reading = (async () => {
        for await (const chunk of proxy.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
      })();
      const deadline = Date.now() + 60_000;
      while (!/NAT type: unrestricted -> unrestricted/.test(log) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      proxy.kill("SIGTERM");
      const status = await proxy.status;
      await reading;
      assert(/NAT type: unknown -> unrestricted/.test(log), `first probe\n${log}`);
      assert(/NAT type: unrestricted -> unrestricted/.test(log), `retest\n${log}`);
      assert(status.code === 0, `proxy exits 0 on SIGTERM\n${log}`);
    } finally {
      try {
        proxy.kill("SIGKILL");
      } catch { /* exited */ }
      await broker.stop();
      await ns.delete();
    }
  },
});
