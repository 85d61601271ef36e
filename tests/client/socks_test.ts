/**
 * `socks:` the standalone mode with curl as the real client: `--socks4`, `--socks4a` and
 * `--socks5-hostname` through our client → our broker → Debian's snowflake-proxy (WebRTC
 * across a veth) → our server → a SOCKS5 server at the far end (dante) → the local origin,
 * file intact; every request is a stream on the session opened at startup (one rendezvous).
 * Malformed requests get the protocol's error reply.
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { CAN_NETNS } from "./netns.ts";

Deno.test({
  name: "socks: curl --socks4, --socks4a and --socks5-hostname reach the origin through the chain",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 30, fileSize: 2_000_000 });
    try {
      chain.debianProxy();
      const client = await chain.ourClient(["--unsafe-logging"]);
      for (const proto of ["--socks5-hostname", "--socks4a", "--socks4"] as const) {
        const got = await chain.curl(client.port, proto);
        console.log(
          `${proto}: ${got.bytes} bytes in ${got.seconds.toFixed(2)} s, first byte after ${
            got.firstByteSeconds.toFixed(2)
          } s`,
        );
        assertEquals(got.bytes, chain.fileSize);
        assertEquals(got.sha256, chain.fileSha256);
      }
      // Every request was a stream on the session the standalone mode opened at startup
      // (client/shared_sessions.ts): one rendezvous for all three.
      const log = await Deno.readTextFile(client.log);
      assertEquals(log.match(/stream on session 1\b/g)?.length, 3);
      assertEquals(log.match(/proxy \S+ connected \[/g)?.length, 1);
    } catch (e) {
      for (const p of chain.net.procs) console.error(`--- ${p.name}\n${p.log().slice(-3000)}`);
      throw e;
    } finally {
      await chain.stop();
    }
  },
});
