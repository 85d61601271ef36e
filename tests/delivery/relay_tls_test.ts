/**
 * `perm:` the proxy, under its binary's flags, dials a `wss:` relay whose CA it trusts through
 * DENO_CERT, with NODE_EXTRA_CA_CERTS also set (naming another CA): the relay WebSocket is
 * Deno's own (WebSocketStream), which verifies with Deno's root store and asks for no
 * permission, unlike `node:https` (docs/INSTALL.md "Trusted CAs").
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { makeCert } from "../client/tls_front.ts";
import { Binary, ptClientEnv } from "./binary.ts";

async function waitUntil(cond: () => Promise<boolean> | boolean, what: () => string) {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what()}`);
}

Deno.test("perm: the proxy dials a wss relay trusting its CA through DENO_CERT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "perm-relay-tls-" });
  const cert = await makeCert(["localhost"]);
  await Deno.writeTextFile(`${dir}/relay-ca.pem`, cert.caPem);
  await Deno.writeTextFile(`${dir}/other-ca.pem`, (await makeCert(["other.test"])).caPem);
  const trust = { DENO_CERT: `${dir}/relay-ca.pem`, NODE_EXTRA_CA_CERTS: `${dir}/other-ca.pem` };
  // The relay: accepts WebSockets over TLS and counts them.
  let upgrades = 0;
  const relay = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: cert.certPem, key: cert.keyPem, onListen() {} },
    (req) => {
      if (req.headers.get("upgrade") !== "websocket") return new Response("relay\n");
      upgrades++;
      return Deno.upgradeWebSocket(req).response;
    },
  );
  const relayUrl = `wss://localhost:${relay.addr.port}/`;
  await Deno.writeTextFile(
    `${dir}/bridge-list.jsonl`,
    JSON.stringify({
      displayName: "test",
      webSocketAddress: relayUrl,
      fingerprint: "2B280B23E1107BB62ABFC40DDCC8824814F80A72",
    }) + "\n",
  );
  const brokerPort = freeTcpPort();
  const brokerUrl = `http://127.0.0.1:${brokerPort}/`;
  const broker = Binary.start("broker-proxy", [
    "broker",
    "--addr",
    `127.0.0.1:${brokerPort}`,
    "--disable-tls",
    "--bridge-list-path",
    `${dir}/bridge-list.jsonl`,
    "--allowed-relay-pattern",
    "^localhost$",
  ]);
  let proxy: Binary | undefined;
  let client: Binary | undefined;
  let conn: Deno.TcpConn | undefined;
  try {
    await broker.waitFor(/listening on/);
    proxy = Binary.start("broker-proxy", [
      "proxy",
      "--broker",
      brokerUrl,
      "--relay",
      relayUrl,
      "--allowed-relay-hostname-pattern",
      "^localhost$",
      "--allow-proxying-to-private-addresses",
      "--keep-local-addresses",
      "--stun",
      "stun:127.0.0.1:1",
      "--nat-probe-server",
      `${brokerUrl}probe`,
      "--log",
      `${dir}/proxy.log`,
    ], { env: trust });
    await waitUntil(
      async () => /available: 1/.test(await (await fetch(`${brokerUrl}debug`)).text()),
      () => proxy!.stderr,
    );
    client = Binary.start("client", [
      "-url",
      brokerUrl,
      "-ice",
      "stun:127.0.0.1:1",
      "-keep-local-addresses",
      "-log",
      `${dir}/client.log`,
    ], {
      env: ptClientEnv(dir),
    });
    const [, socksPort] = await client.waitFor(/^CMETHOD snowflake socks5 127\.0\.0\.1:(\d+)$/m);
    // One SOCKS5 request: the client rendezvouses, its data channel opens, the proxy dials.
    conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(socksPort) });
    await conn.write(new Uint8Array([5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 3, 0, 80]));
    await waitUntil(() => upgrades > 0, () => {
      const log = (f: string) => {
        try {
          return Deno.readTextFileSync(`${dir}/${f}`);
        } catch {
          return "";
        }
      };
      return `no relay connection\nproxy:\n${log("proxy.log")}\nclient:\n${log("client.log")}`;
    });
  } finally {
    conn?.close();
    await client?.stop();
    await proxy?.stop();
    await broker.stop();
    await relay.shutdown();
  }
  const proxyLog = await Deno.readTextFile(`${dir}/proxy.log`);
  assert(!/error dialing relay/.test(proxyLog), proxyLog);
  assertEquals(/NotCapable|Requires \w+ access/.test(proxy!.stderr), false, proxy!.stderr);
  await Deno.remove(dir, { recursive: true });
});
