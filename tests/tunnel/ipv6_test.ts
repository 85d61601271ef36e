/**
 * pytunnel over IPv6 and carrying IPv6, in namespaces: the outer UDP runs
 * between IPv6 endpoints (`server: [fd31:a::1]:PORT`), the tunnel has IPv6
 * addresses beside IPv4 (`tunnel_ip6`), and the server's ACL holds for IPv6
 * sources. ping6 and iperf3 -6 through it. Needs root.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { iperf } from "./iperf.ts";
import { IS_ROOT, Topology } from "./netns.ts";
import { newKeys, until } from "./env.ts";
import { fetchStatus } from "../../pytunnel/control.ts";
import type { StatusReport } from "../../pytunnel/report.ts";

const PORT = 51830;

Deno.test({
  name: "tunnel:ipv6: ping6 and iperf3 -6 through a tunnel whose endpoints are IPv6; IPv6 ACL",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const topo = Topology.create();
    try {
      const sVeth = `pyt${topo.id}sa`, aVeth = `pyt${topo.id}a`;
      await topo.run(topo.server, "ip", [
        "-6",
        "addr",
        "add",
        "fd31:a::1/64",
        "dev",
        sVeth,
        "nodad",
      ]);
      await topo.run(topo.clientA, "ip", [
        "-6",
        "addr",
        "add",
        "fd31:a::2/64",
        "dev",
        aVeth,
        "nodad",
      ]);
      const server = newKeys(), a = newKeys();
      topo.file(
        "server6.yaml",
        [
          `listen_address: "::"`,
          `listen_port: ${PORT}`,
          `private_key: "${server.priv}"`,
          `tunnel_ip: 10.10.0.1/24`,
          `tunnel_ip6: fd10::1/64`,
          `interface: pyt6`,
          `status: ${topo.dir}/server6.sock`,
          `peers:`,
          `  - { name: a, public_key: "${a.pub}", tunnel_ip: 10.10.0.2, tunnel_ip6: fd10::2 }`,
        ].join("\n") + "\n",
      );
      topo.file(
        "a6.yaml",
        [
          `server: "[fd31:a::1]:${PORT}"`,
          `server_public_key: "${server.pub}"`,
          `private_key: "${a.priv}"`,
          `tunnel_ip: 10.10.0.2/24`,
          `tunnel_ip6: fd10::2/64`,
          `interface: pyt6`,
          `keepalive: 5`,
        ].join("\n") + "\n",
      );
      const srv = topo.pytunnel(topo.server, ["server", "-c", `${topo.dir}/server6.yaml`]);
      await srv.waitFor(/server started/);
      const cli = topo.pytunnel(topo.clientA, ["client", "-c", `${topo.dir}/a6.yaml`]);
      await cli.waitFor(/handshake with the server complete/, 30_000);
      const status = () =>
        fetchStatus({ path: `${topo.dir}/server6.sock` }) as Promise<StatusReport>;
      const peer = (await status()).peers.find((p) => p.name === "a")!;
      assert(peer.endpoint?.startsWith("[fd31:a::2]:"), `outer endpoint ${peer.endpoint}`);
      assertEquals(peer.tunnelIp6, "fd10::2");

      const ping6 = await topo.run(topo.clientA, "ping", [
        "-6",
        "-n",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        "fd10::1",
      ]);
      assertEquals(ping6.code, 0, ping6.stdout + ping6.stderr);
      const ping4 = await topo.ping(topo.clientA, "10.10.0.1", 2);
      assertEquals(ping4.code, 0, ping4.stdout);
      const r = await iperf(topo, topo.server, topo.clientA, "fd10::1", 3, 5206);
      assertEquals(r.error, undefined, r.error);
      assert(r.bytes > 0, "iperf3 -6 moved no bytes");
      console.log(
        `  iperf3 over IPv6 inside and outside: ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`,
      );

      // An IPv6 source that is not the client's: the server refuses it (acl).
      const before = (await status()).drops.acl ?? 0;
      await topo.run(topo.clientA, "ip", [
        "-6",
        "addr",
        "add",
        "fd10::99/128",
        "dev",
        "pyt6",
        "nodad",
      ]);
      const spoofed = await topo.run(topo.clientA, "ping", [
        "-6",
        "-n",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "1",
        "-I",
        "fd10::99",
        "fd10::1",
      ]);
      assert(spoofed.code !== 0, `a foreign IPv6 source got through:\n${spoofed.stdout}`);
      await until(
        "the acl drops to count",
        async () => ((await status()).drops.acl ?? 0) >= before + 2,
      );
    } finally {
      await topo.destroy();
    }
  },
});
