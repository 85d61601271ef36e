/**
 * A pytunnel server and client over IPv6 endpoints between the server
 * namespace and client A of a {@link Topology} (outer fd31:a::1 ↔ fd31:a::2,
 * tunnel 10.10.0.1 ↔ .2 and fd10::1 ↔ ::2), shared by the `tunnel:ipv6` test
 * and the benchmark.
 *
 * @module
 */

import { newKeys } from "./env.ts";
import type { Proc, Topology } from "./netns.ts";

export const OUTER6_SERVER = "fd31:a::1";
export const OUTER6_CLIENT = "fd31:a::2";

/** A running IPv6 pytunnel pair. */
export interface Ipv6Tunnel {
  server: Proc;
  client: Proc;
  serverSock: string;
  serverTunnelIp: string;
  serverTunnelIp6: string;
}

/** Gives the server↔client A veth its IPv6 addresses (once per topology). */
export async function addOuterIpv6(topo: Topology): Promise<void> {
  for (
    const [ns, dev, addr] of [
      [topo.server, `pyt${topo.id}sa`, OUTER6_SERVER],
      [topo.clientA, `pyt${topo.id}a`, OUTER6_CLIENT],
    ]
  ) {
    const out = await topo.run(ns!, "ip", [
      "-6",
      "addr",
      "add",
      `${addr}/64`,
      "dev",
      dev!,
      "nodad",
    ]);
    if (out.code !== 0) throw new Error(`ip -6 addr add ${addr}: ${out.stderr.trim()}`);
  }
}

/** Starts the pair on `port` (interface pyt6 on both sides); resolves after the first handshake. */
export async function startIpv6Tunnel(topo: Topology, port: number): Promise<Ipv6Tunnel> {
  const server = newKeys(), a = newKeys();
  const serverSock = `${topo.dir}/server6.sock`;
  topo.file(
    "server6.yaml",
    [
      `listen_address: "::"`,
      `listen_port: ${port}`,
      `private_key: "${server.priv}"`,
      `tunnel_ip: 10.10.0.1/24`,
      `tunnel_ip6: fd10::1/64`,
      `interface: pyt6`,
      `status: ${serverSock}`,
      `peers:`,
      `  - { name: a, public_key: "${a.pub}", tunnel_ip: 10.10.0.2, tunnel_ip6: fd10::2 }`,
    ].join("\n") + "\n",
  );
  topo.file(
    "a6.yaml",
    [
      `server: "[${OUTER6_SERVER}]:${port}"`,
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
  return {
    server: srv,
    client: cli,
    serverSock,
    serverTunnelIp: "10.10.0.1",
    serverTunnelIp6: "fd10::1",
  };
}
