/**
 * pytunnel over IPv6 and carrying IPv6, in namespaces: the outer UDP runs
 * between IPv6 endpoints (`server: [fd31:a::1]:PORT`), the tunnel has IPv6
 * addresses beside IPv4 (`tunnel_ip6`), and the server's ACL holds for IPv6
 * sources; both ends use batched I/O (recvmmsg/sendmmsg) on their IPv6
 * sockets. ping6 and iperf3 -6 through it. Needs root.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { iperf } from "./iperf.ts";
import { IS_ROOT, Topology } from "./netns.ts";
import { until } from "./env.ts";
import { addOuterIpv6, OUTER6_CLIENT, startIpv6Tunnel } from "./ipv6_pair.ts";
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
      await addOuterIpv6(topo);
      const t = await startIpv6Tunnel(topo, PORT);
      assert(
        /recvmmsg\/sendmmsg/.test(t.server.stdout + t.server.stderr),
        "server: no batched I/O",
      );
      assert(
        /recvmmsg\/sendmmsg/.test(t.client.stdout + t.client.stderr),
        "client: no batched I/O",
      );
      const status = () => fetchStatus({ path: t.serverSock }) as Promise<StatusReport>;
      const peer = (await status()).peers.find((p) => p.name === "a")!;
      assert(peer.endpoint?.startsWith(`[${OUTER6_CLIENT}]:`), `outer endpoint ${peer.endpoint}`);
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
