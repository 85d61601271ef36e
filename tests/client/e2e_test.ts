/**
 * `e2e:client-bootstrap` and `e2e:client-our-proxy`: tor with our client as its pluggable
 * transport → our broker → Debian's snowflake-proxy (or ours), WebRTC across a veth →
 * our server as the bridge's PT → the private Tor network (tests/e2e/harness.ts). Tor
 * bootstraps to 100%, then curl through its SocksPort fetches the 10 MB file intact.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_RUN, FILE_SIZE, torNetwork } from "../e2e/harness.ts";
import { TorChain } from "./tor_chain.ts";
import type { NsProc } from "./netns.ts";

async function bootstrapThrough(proxy: (c: TorChain) => NsProc, label: string): Promise<void> {
  const net = await torNetwork();
  const chain = await TorChain.start(net);
  try {
    proxy(chain);
    const log = `${chain.dir}/client-safe.log`;
    const client = await net.startClient({
      bridge: net.bridgeLine(),
      transportPlugin: chain.clientPlugin(log),
      timeoutMs: 180_000,
    });
    try {
      const got = await net.curl(client, net.fileUrl, `client-${label}.bin`);
      console.log(
        `${label}: Bootstrapped 100% after ${client.bootstrapSeconds.toFixed(1)} s; ` +
          `10 MB in ${got.seconds.toFixed(1)} s (${
            (got.bytes / got.seconds / 1e6).toFixed(2)
          } MB/s)`,
      );
      assertEquals(got.bytes, FILE_SIZE);
      assertEquals(got.sha256, net.fileSha256);
      const text = await Deno.readTextFile(log);
      assert(/data channel open/.test(text), text);
    } finally {
      await client.stop();
    }
  } catch (e) {
    for (const p of chain.procs) console.error(`--- ${p.name}\n${p.log().slice(-2500)}`);
    throw e;
  } finally {
    await chain.stop();
  }
}

Deno.test({
  name: "e2e:client-bootstrap tor through our client, our broker, Debian's proxy, our server",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => bootstrapThrough((c) => c.debianProxy(), "debian-proxy"),
});

Deno.test({
  name: "e2e:client-our-proxy tor through our client, our broker, our proxy, our server",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => bootstrapThrough((c) => c.ourProxy(), "our-proxy"),
});
