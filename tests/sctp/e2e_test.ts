/**
 * `sctp:e2e`: tor runs our client as its PT with the sctp transport (`Bridge sctp
 * 10.77.0.1:9899 <FP>`); it reaches our server, which the bridge's tor runs as its PT next
 * to snowflake, and through it the private Tor network of tests/e2e/harness.ts. The client
 * bootstraps to 100% and fetches the 10 MB file intact; the bridge saw the client over the
 * ExtORPort with transport 'sctp'.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { BINARIES } from "../../tools/permissions.ts";
import {
  CAN_RUN,
  denoExec,
  FILE_SIZE,
  IP,
  progress,
  readOr,
  SCTP_PORT,
  torNetwork,
} from "../e2e/harness.ts";

Deno.test({
  name: "sctp:e2e tor bootstraps through our sctp client and server and fetches 10 MB",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const ptLog = `${net.dir}/sctp-client.log`;
    const pt = denoExec("client/main.ts", BINARIES.client!.flags, [
      "--log",
      ptLog,
      "--unsafe-logging",
    ]);
    const fp = net.bridgeFingerprint;
    const client = await net.startClient({
      bridge: `sctp ${IP}:${SCTP_PORT} ${fp} fingerprint=${fp}`,
      transportPlugin: `sctp ${pt}`,
      logInfo: true,
    }).catch((e) => {
      const tail = (text: string) => text.split("\n").slice(-15).join("\n");
      throw new Error(
        `${(e as Error).message}\n--- client PT log:\n${tail(readOr(ptLog))}` +
          `\n--- server log:\n${tail(net.serverLog())}`,
      );
    });
    try {
      progress(`bootstrapped over sctp in ${client.bootstrapSeconds.toFixed(1)} s`);
      const got = await net.curl(client, net.fileUrl, "via-sctp.bin");
      progress(
        `via sctp: ${got.bytes} bytes in ${got.seconds.toFixed(1)} s ` +
          `(${(got.bytes / got.seconds / 1e6).toFixed(1)} MB/s)`,
      );
      assertEquals(got.bytes, FILE_SIZE);
      assertEquals(got.sha256, net.fileSha256);
      const seen = /Seen client from '10\.77\.0\.\d' with transport 'sctp'/.exec(
        net.bridgeLog("extor"),
      );
      assert(seen, "bridge log shows no client with transport sctp");
      progress(`bridge log: ${seen[0]}`);
    } finally {
      await client.stop();
    }
  },
});
