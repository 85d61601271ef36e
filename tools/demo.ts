/**
 * The main job, end to end on one machine (as root): a private Tor network in
 * a network namespace whose bridge runs our Snowflake server as its pluggable
 * transport; a tor client bootstraps through it (client side: the Turbo Tunnel
 * test PT until the full WebRTC client lands) and fetches a 10 MB file, whose
 * sha256 is checked. Everything is torn down at exit.
 */
import { BINARIES } from "./permissions.ts";
import { CAN_RUN, denoExec, FILE_SIZE, progress, torNetwork } from "../tests/e2e/harness.ts";

if (!CAN_RUN) {
  console.error("demo: needs Linux, root, tor and tor-gencert (run tools/setup.sh as root)");
  Deno.exit(2);
}
const net = await torNetwork();
const pt = denoExec("tests/e2e/test_pt_client.ts", BINARIES.client!.flags, [
  "--url",
  net.serverUrl + "?client_ip=10.77.0.2",
]);
progress("starting a tor client that uses the snowflake bridge");
const client = await net.startClient({
  bridge: net.bridgeLine(),
  transportPlugin: `snowflake ${pt}`,
});
try {
  const got = await net.curl(client, net.fileUrl, "demo.bin");
  const ok = got.bytes === FILE_SIZE && got.sha256 === net.fileSha256;
  console.log(
    `demo: fetched ${got.bytes} bytes through tor + our snowflake server in ` +
      `${got.seconds.toFixed(1)} s (${(got.bytes / got.seconds / 1e6).toFixed(1)} MB/s); ` +
      `sha256 ${ok ? "matches" : "DIFFERS"}`,
  );
  Deno.exitCode = ok ? 0 : 1;
} finally {
  await client.stop();
}
Deno.exit();
