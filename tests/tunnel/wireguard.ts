/**
 * wireguard-go between the server namespace and client A of a {@link Topology}:
 * the performance anchor the benchmark compares pytunnel with.
 *
 * @module
 */

import type { Proc, Topology } from "./netns.ts";

/** A running wireguard-go pair. */
export interface WireguardPair {
  serverTunnelIp: string;
  server: Proc;
  client: Proc;
  stop(): Promise<void>;
}

async function wg(topo: Topology, ns: string, args: string[], stdin?: string): Promise<string> {
  const out = await topo.run(ns, "wg", args, stdin);
  if (out.code !== 0) throw new Error(`wg ${args.join(" ")}: ${out.stderr.trim()}`);
  return out.stdout.trim();
}

async function ip(topo: Topology, ns: string, args: string[]): Promise<void> {
  const out = await topo.run(ns, "ip", args);
  if (out.code !== 0) throw new Error(`ip ${args.join(" ")}: ${out.stderr.trim()}`);
}

/** Where a second pair differs from the first: its outer server address and its tunnel. */
export interface WireguardOptions {
  /** The server's outer address as client A reaches it (default: its IPv4 address). */
  endpointHost?: string;
  /** The tunnel's /24 as its first three octets (default "10.66.0"). */
  subnet?: string;
  /** Tells this pair's interfaces apart from another pair's (default ""). */
  tag?: string;
}

/** Starts wireguard-go in the server namespace and client A, tunnel 10.66.0.1 ↔ 10.66.0.2. */
export async function startWireguard(
  topo: Topology,
  port = 51900,
  o: WireguardOptions = {},
): Promise<WireguardPair> {
  const subnet = o.subnet ?? "10.66.0", tag = o.tag ?? "";
  const endpoint = o.endpointHost?.includes(":") ? `[${o.endpointHost}]` : o.endpointHost;
  // The UAPI socket (/var/run/wireguard/NAME.sock) is shared by all namespaces: distinct names.
  const sDev = `pytwg${topo.id}s${tag}`, cDev = `pytwg${topo.id}c${tag}`;
  const keys = async () => {
    const priv = await wg(topo, topo.server, ["genkey"]);
    return { priv, pub: await wg(topo, topo.server, ["pubkey"], priv + "\n") };
  };
  const s = await keys(), c = await keys();
  const sKey = topo.file(`wg-server.key`, s.priv + "\n");
  const cKey = topo.file(`wg-client.key`, c.priv + "\n");
  const env = ["env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error"];
  const server = topo.spawn(topo.server, env[0]!, [...env.slice(1), "wireguard-go", "-f", sDev]);
  const client = topo.spawn(topo.clientA, env[0]!, [...env.slice(1), "wireguard-go", "-f", cDev]);
  const pair: WireguardPair = {
    serverTunnelIp: `${subnet}.1`,
    server,
    client,
    async stop() {
      await Promise.all([server.stop(), client.stop()]);
    },
  };
  try {
    const waitDev = async (ns: string, dev: string, proc: Proc) => {
      for (let i = 0; i < 100; i++) {
        if ((await topo.run(ns, "ip", ["link", "show", dev])).code === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`wireguard-go did not create ${dev} in ${ns}: ${proc.stdout}${proc.stderr}`);
    };
    await Promise.all([waitDev(topo.server, sDev, server), waitDev(topo.clientA, cDev, client)]);
    await wg(topo, topo.server, [
      "set",
      sDev,
      "private-key",
      sKey,
      "listen-port",
      String(port),
      "peer",
      c.pub,
      "allowed-ips",
      `${subnet}.2/32`,
    ]);
    await wg(topo, topo.clientA, [
      "set",
      cDev,
      "private-key",
      cKey,
      "peer",
      s.pub,
      "allowed-ips",
      `${subnet}.0/24`,
      "endpoint",
      `${endpoint ?? topo.serverIpA}:${port}`,
      "persistent-keepalive",
      "25",
    ]);
    await ip(topo, topo.server, ["addr", "add", `${subnet}.1/24`, "dev", sDev]);
    await ip(topo, topo.clientA, ["addr", "add", `${subnet}.2/24`, "dev", cDev]);
    await ip(topo, topo.server, ["link", "set", sDev, "mtu", "1420", "up"]);
    await ip(topo, topo.clientA, ["link", "set", cDev, "mtu", "1420", "up"]);
    const ping = await topo.ping(topo.clientA, `${subnet}.1`, 2);
    if (ping.code !== 0) throw new Error(`no ping through wireguard-go:\n${ping.stdout}`);
  } catch (e) {
    await pair.stop();
    throw e;
  }
  return pair;
}
