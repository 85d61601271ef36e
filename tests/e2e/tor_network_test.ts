import { assertEquals } from "../../lib/testing/assert.ts";
import { CAN_RUN, FILE_SIZE, progress, torNetwork } from "./harness.ts";

Deno.test({
  name: "e2e:tor-network: a tor client bootstraps through the plain bridge and fetches the file",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const client = await net.startClient({ bridge: net.plainBridgeLine() });
    try {
      const got = await net.curl(client, net.fileUrl, "plain.bin");
      progress(`plain bridge: ${got.bytes} bytes in ${got.seconds.toFixed(1)} s`);
      assertEquals(got.bytes, FILE_SIZE);
      assertEquals(got.sha256, net.fileSha256);
    } finally {
      await client.stop();
    }
  },
});
