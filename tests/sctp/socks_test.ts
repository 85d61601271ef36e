/**
 * `sctp:socks`: the standalone mode with curl as the real client: `--socks4a` and
 * `--socks5-hostname` through our client → SCTP over UDP across a veth → our server → a
 * SOCKS5 server at the far end (dante) → the local origin, file intact. Then the server
 * stops (or crashes) and comes back: the client sets the association up again, and a request
 * made while the server is away waits for it.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { waitUntil } from "../client/netns.ts";
import { CAN_NETNS } from "./peers.ts";
import { SctpChain } from "./chain.ts";

Deno.test({
  name: "sctp:socks curl --socks4a and --socks5-hostname reach the origin over sctp",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await SctpChain.run(61, 5_000_000, async (chain) => {
      for (const proto of ["--socks5-hostname", "--socks4a"] as const) {
        const got = await chain.curl(proto);
        console.log(`${proto}: ${got.bytes} bytes in ${got.seconds.toFixed(2)} s`);
        assertEquals(got.bytes, chain.fileSize);
        assertEquals(got.sha256, chain.fileSha256);
      }
      const serverLog = chain.server!.log();
      assert(/sctp stream \d+ closed: \d+ bytes up, \d+ down/.test(serverLog), serverLog);
    });
  },
});

Deno.test({
  name: "sctp:socks a lost association is set up again and new connections wait for it",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await SctpChain.run(62, 1_000_000, async (chain) => {
      const ups = () => (chain.client!.log().match(/sctp association up/g) ?? []).length;
      assertEquals((await chain.curl("--socks5-hostname")).sha256, chain.fileSha256);
      // A server that stops aborts its associations: the client knows at once.
      await chain.server!.stop();
      await waitUntil(() => /sctp association down/.test(chain.client!.log()), 10_000);
      // A request made while the server is away waits for the association; the server
      // comes back 3 s later and the request goes through.
      const pending = chain.curl("--socks5-hostname", 90);
      await new Promise((r) => setTimeout(r, 3000));
      await chain.startServer();
      assertEquals((await pending).sha256, chain.fileSha256);
      assertEquals(ups(), 2);
      // A server that crashes says nothing; its successor aborts the stale association
      // when the client's next heartbeat or data arrives, and the client sets up a new one.
      await chain.server!.kill();
      await chain.startServer();
      await waitUntil(async () => {
        const got = await chain.curl("--socks5-hostname", 30).catch(() => null);
        return got?.sha256 === chain.fileSha256;
      }, 60_000);
      assert(ups() >= 3, chain.client!.log());
    });
  },
});
