import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { BINARIES } from "../../tools/permissions.ts";
import { CAN_RUN, denoExec, FILE_SIZE, progress, readOr, torNetwork } from "./harness.ts";

Deno.test({
  name: "e2e:server-tor: tor bootstraps through our server via the test PT and fetches 10 MB",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    // The proxy would add client_ip; the server passes it to tor as USERADDR.
    const ptLog = `${net.dir}/test_pt_client.log`;
    const pt = denoExec("tests/e2e/test_pt_client.ts", BINARIES.client!.flags, [
      "--url",
      net.serverUrl + "?client_ip=10.77.0.2",
      "--log",
      ptLog,
    ]);
    const client = await net.startClient({
      bridge: net.bridgeLine(),
      transportPlugin: `snowflake ${pt}`,
      logInfo: true,
    }).catch((e) => {
      const tail = (text: string) => text.split("\n").slice(-10).join("\n");
      throw new Error(
        `${(e as Error).message}\n--- test PT log:\n${tail(readOr(ptLog))}` +
          `\n--- server log:\n${tail(net.serverLog())}`,
      );
    });
    try {
      const got = await net.curl(client, net.fileUrl, "via-snowflake.bin");
      progress(
        `via our server: ${got.bytes} bytes in ${got.seconds.toFixed(1)} s ` +
          `(${(got.bytes / got.seconds / 1e6).toFixed(1)} MB/s)`,
      );
      assertEquals(got.bytes, FILE_SIZE);
      assertEquals(got.sha256, net.fileSha256);
      // The server reported the proxy's client_ip as USERADDR and the transport over the
      // ExtORPort; tor 0.4.9 logs both (debug level).
      const extor = net.bridgeLog("extor");
      const useraddr = /Received USERADDR\.We rewrite our address from '[^']+' to '10\.77\.0\.2:1'/
        .exec(extor);
      const seen = /Seen client from '10\.77\.0\.2' with transport 'snowflake'/.exec(extor);
      assert(useraddr, "bridge log shows no ExtORPort USERADDR from our server");
      assert(seen, "bridge log shows no client with transport snowflake");
      progress(`bridge log: ${useraddr[0]}; ${seen[0]}`);
    } finally {
      await client.stop();
    }
  },
});
