import { assert, assertEquals, assertNotEquals } from "../../lib/testing/assert.ts";
import { goodEnv, smethodPort, spawnServer } from "../server/spawn.ts";
import { startEcho } from "../server/ws_client.ts";
import { startPebble } from "./pebble.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { openWss, servedSerial } from "./wss.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("acme: server serves wss with an ACME certificate from pebble", opts, async () => {
  const state = await Deno.makeTempDir({ prefix: "acme-server-" });
  const challengePort = freeTcpPort();
  const pebble = await startPebble({ challengePort });
  const orport = startEcho();
  let server: ReturnType<typeof spawnServer> | undefined;
  try {
    server = spawnServer(goodEnv(orport.port, { TOR_PT_STATE_LOCATION: state }), [
      "--acme-hostnames",
      "localhost,snow.test",
      "--acme-email",
      "ops@snow.test",
      "--acme-directory-url",
      pebble.directoryUrl,
      "--acme-ca-cert",
      pebble.caCertFile,
      "--acme-http-port",
      String(challengePort),
    ]);
    const lines = await server.waitFor(/^SMETHODS DONE$/);
    const smethod = lines.find((l) => l.startsWith("SMETHOD snowflake")) ?? "";
    assert(smethod.includes("tls=yes"), `${lines.join("\n")}\n${pebble.output()}`);
    const port = smethodPort(lines);
    const cacheDir = `${state}/snowflake-certificate-cache`;
    assertEquals((await Deno.stat(cacheDir)).mode! & 0o777, 0o700);

    const root = await pebble.issuingRoot();
    // The WebSocket handshake completes for a client trusting only pebble's issuing root…
    const ws = await openWss(`wss://localhost:${port}/`, root);
    ws.close();
    // …and Turbo Tunnel data goes through it to the ORPort and back (client in a subprocess,
    // trusting the root through DENO_CERT).
    const rootFile = `${state}/pebble-root.pem`;
    await Deno.writeTextFile(rootFile, root);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./tt_echo_client.ts", import.meta.url).pathname,
        `wss://localhost:${port}/`,
        "100000",
      ],
      env: { DENO_CERT: rootFile },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    assert(text.includes("echoed 100000"), text);
  } finally {
    server?.kill("SIGTERM");
    if (server) await server.status;
    orport.close();
    await pebble.stop();
    await Deno.remove(state, { recursive: true }).catch(() => {});
  }
});

for (const workers of [1, 2]) {
  const where = workers === 1 ? "" : " in every Worker (num-turbotunnel=2)";
  Deno.test(
    `acme: server renews a short-lived certificate and serves the new one without restart${where}`,
    opts,
    async () => {
      const state = await Deno.makeTempDir({ prefix: "acme-server-" });
      const challengePort = freeTcpPort();
      const pebble = await startPebble({ challengePort, validitySeconds: 6 });
      let server: ReturnType<typeof spawnServer> | undefined;
      try {
        const env = goodEnv(9, {
          TOR_PT_STATE_LOCATION: state,
          TOR_PT_SERVER_TRANSPORT_OPTIONS: `snowflake:num-turbotunnel=${workers}`,
        });
        server = spawnServer(env, [
          "--acme-hostnames",
          "localhost",
          "--acme-directory-url",
          pebble.directoryUrl,
          "--acme-ca-cert",
          pebble.caCertFile,
          "--acme-http-port",
          String(challengePort),
        ]);
        const port = smethodPort(await server.waitFor(/^SMETHODS DONE$/));
        const root = await pebble.issuingRoot();
        const first = await servedSerial(port, "localhost", root);
        let serial = first;
        for (let i = 0; i < 100 && serial === first; i++) {
          await new Promise((r) => setTimeout(r, 200));
          serial = await servedSerial(port, "localhost", root);
        }
        assertNotEquals(serial, first);
        // The kernel spreads connections over the Workers: none still serves the first one.
        await new Promise((r) => setTimeout(r, 300));
        for (let i = 0; i < 8; i++) {
          assertNotEquals(await servedSerial(port, "localhost", root), first);
        }
        const ws = await openWss(`wss://localhost:${port}/`, root);
        ws.close();
        server.kill("SIGTERM");
        assertEquals((await server.status).code, 0);
        assert((await server.stderr).includes("ACME certificate renewed"));
      } finally {
        server?.kill("SIGKILL");
        if (server) await server.status;
        await pebble.stop();
        await Deno.remove(state, { recursive: true }).catch(() => {});
      }
    },
  );
}
