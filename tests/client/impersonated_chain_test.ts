/**
 * `tls-fingerprint:` the whole chain with `--impersonate-profile chrome`: the client's
 * rendezvous goes through impit (its Chrome profile, here over plain HTTP to our broker, not
 * fronted: impit cannot front), finds Debian's proxy and carries a file intact.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { CAN_NETNS } from "./netns.ts";

Deno.test({
  name: "tls-fingerprint: the whole chain rendezvoused through impit's Chrome profile",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 47, fileSize: 1_000_000 });
    try {
      chain.debianProxy();
      await chain.waitForProxies();
      const client = await chain.ourClient(["--impersonate-profile", "chrome"]);
      const got = await chain.curl(client.port);
      assertEquals(got.sha256, chain.fileSha256);
      const log = await Deno.readTextFile(client.log);
      assert(/rendezvous TLS fingerprint: impit chrome151/.test(log), log);
      console.log("1 MB through a proxy found by a rendezvous through impit's chrome151 profile");
    } catch (e) {
      for (const p of chain.net.procs) console.error(`--- ${p.name}\n${p.log().slice(-2000)}`);
      throw e;
    } finally {
      await chain.stop();
    }
  },
});
