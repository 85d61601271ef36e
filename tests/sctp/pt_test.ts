/**
 * `sctp:pt`: the PT lines of the two binaries when tor names snowflake, sctp or both: each
 * named transport gets its own CMETHOD / SMETHOD, unknown ones an error line; a bridge that
 * runs sctp alone needs no ACME.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort, freeUdpPort } from "../../lib/testing/util.ts";
import { clientPtCommand, Proc, serverCommand } from "./peers.ts";

Deno.test({
  name: "sctp:pt the client prints one CMETHOD per transport tor asks for",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "sctp-pt-" });
    const { cmd, env } = clientPtCommand(state);
    const client = new Proc("client", cmd, {
      ...env,
      TOR_PT_CLIENT_TRANSPORTS: "snowflake,sctp,obfs9",
    }, true);
    try {
      await client.waitFor(/CMETHODS DONE/);
      const out = client.output;
      assert(/^CMETHOD snowflake socks5 127\.0\.0\.1:\d+$/m.test(out), out);
      assert(/^CMETHOD sctp socks5 127\.0\.0\.1:\d+$/m.test(out), out);
      assert(/^CMETHOD-ERROR obfs9 /m.test(out), out);
      const ports = [...out.matchAll(/^CMETHOD \S+ socks5 127\.0\.0\.1:(\d+)$/gm)].map((m) => m[1]);
      assertEquals(new Set(ports).size, 2);
    } finally {
      await client.stop();
      await Deno.remove(state, { recursive: true });
    }
  },
});

Deno.test({
  name: "sctp:pt the server prints one SMETHOD per transport; sctp alone needs no ACME",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "sctp-pt-" });
    const ws = freeTcpPort(), udp = freeUdpPort();
    const both = serverCommand(`127.0.0.1:${udp}`, "127.0.0.1:9", state);
    const server = new Proc("server", both.cmd, {
      ...both.env,
      TOR_PT_SERVER_TRANSPORTS: "snowflake,sctp",
      TOR_PT_SERVER_BINDADDR: `snowflake-127.0.0.1:${ws},sctp-127.0.0.1:${udp}`,
    }, true);
    try {
      await server.waitFor(/SMETHODS DONE/);
      assert(server.output.includes(`SMETHOD snowflake 127.0.0.1:${ws}`), server.output);
      assert(server.output.includes(`SMETHOD sctp 127.0.0.1:${udp}`), server.output);
    } finally {
      await server.stop();
    }
    const alone = serverCommand(`127.0.0.1:${freeUdpPort()}`, "127.0.0.1:9", state);
    const noTls = alone.cmd.filter((a) => a !== "--disable-tls");
    const sctpOnly = new Proc("server", noTls, alone.env, true);
    try {
      await sctpOnly.waitFor(/SMETHODS DONE/);
      assert(/^SMETHOD sctp 127\.0\.0\.1:\d+$/m.test(sctpOnly.output), sctpOnly.output);
    } finally {
      await sctpOnly.stop();
      await Deno.remove(state, { recursive: true });
    }
  },
});
