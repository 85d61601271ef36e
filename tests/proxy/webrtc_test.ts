import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_NETNS, DENO, Netns } from "./netns.ts";
import { BINARIES } from "../../tools/permissions.ts";

Deno.test({
  name: "webrtc: two @roamhq/wrtc peers relay both ways intact through the shared helpers",
  ignore: !CAN_NETNS,
  async fn() {
    const ns = await Netns.create();
    try {
      const child = ns.spawn([
        DENO,
        "run",
        ...BINARIES["broker-proxy"]!.flags,
        "tests/proxy/webrtc_pair.ts",
        "4000000",
      ]);
      // The script exits by itself only when every peer connection is closed.
      const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
      const out = await child.output();
      clearTimeout(killer);
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 0, `webrtc_pair exited ${out.code}: ${stderr}`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      console.error(`webrtc pair: ${r.mbPerSecond} MB/s both ways, max buffered ${r.maxBuffered}`);
      assert(r.upIntact && r.downIntact, "data intact both ways");
      assert(r.offerCandidates > r.strippedCandidates.length, "local candidates were stripped");
      for (const line of r.strippedCandidates as string[]) {
        assert(/ 198\.18\.0\.[12] /.test(line), `only veth candidates kept: ${line}`);
      }
      assert(["198.18.0.1", "198.18.0.2"].includes(r.clientIP), `client ip ${r.clientIP}`);
      assert(r.maxBuffered <= r.highWater, `buffered ${r.maxBuffered} > ${r.highWater}`);
      assert(r.peerEnded, "closing one side ends the other's readable");
      assertEquals(r.peerClosed, 2);
    } finally {
      await ns.delete();
    }
  },
});
