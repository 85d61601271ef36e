// The broker over TLS: a certificate from ACME (pebble), and Go-style flags, scrubbed logs.
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { startPebble } from "../acme/pebble.ts";
import { spawnBroker } from "./spawn.ts";
import { parseBrokerFlags } from "../../proxy/broker/flags.ts";

Deno.test({
  name: "acme: the broker serves https with an ACME certificate from pebble",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "broker-acme-" });
    const challengePort = freeTcpPort();
    const pebble = await startPebble({ challengePort });
    let broker: Awaited<ReturnType<typeof spawnBroker>> | undefined;
    try {
      // Go-style single-dash flags, as an operator's Go broker command line would have them.
      broker = await spawnBroker([], {
        hostname: "localhost",
        tlsArgs: [
          "-acme-hostnames",
          "localhost",
          "-acme-email",
          "ops@broker.test",
          "-acme-cert-cache",
          `${dir}/cache`,
          "-acme-directory-url",
          pebble.directoryUrl,
          "-acme-ca-cert",
          pebble.caCertFile,
          "-acme-http-port",
          String(challengePort),
        ],
      });
      assertEquals((await Deno.stat(`${dir}/cache`)).mode! & 0o777, 0o700);
      const client = Deno.createHttpClient({ caCerts: [await pebble.issuingRoot()] });
      const res = await fetch(broker.url + "debug", { client } as RequestInit);
      assertEquals(res.status, 200);
      assert((await res.text()).startsWith("current snowflakes available: 0"));
      client.close();
      // Without -unsafe-logging the log has no address.
      assert(/listening on https:\/\/\[scrubbed\]\//.test(broker.log()), broker.log());
    } finally {
      await broker?.stop();
      await pebble.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("broker: flags parse Go-style single dashes, durations and addresses", () => {
  const f = parseBrokerFlags([
    "-addr",
    ":8443",
    "-disable-tls",
    "-allowed-relay-pattern",
    "snowflake.torproject.net$",
    "--client-timeout",
    "1m30s",
    "-metrics-interval",
    "250ms",
    "-disable-geoip",
  ]);
  assertEquals(f.addr, { hostname: "0.0.0.0", port: 8443 });
  assertEquals([f.disableTls, f.allowedRelayPattern, f.clientTimeoutMs, f.metricsIntervalMs], [
    true,
    "snowflake.torproject.net$",
    90_000,
    250,
  ]);
  assertEquals(parseBrokerFlags(["-addr", "[::1]:443"]).addr, { hostname: "::1", port: 443 });
  let threw = false;
  try {
    parseBrokerFlags(["-cert", "a.pem"]);
  } catch {
    threw = true;
  }
  assert(threw, "--cert without --key is refused");
});
