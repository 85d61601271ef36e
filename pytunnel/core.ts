/**
 * The seam between the pytunnel app and the protocol core in lib/tunnel: key
 * helpers, building a server or client core from a validated config, turning
 * the core's stats into the report operators see, and the packet knowledge the
 * attack tools need.
 *
 * @module
 */

import type { Logger } from "../lib/log/logger.ts";
import { HostPortAddr } from "../lib/net/addr.ts";
import type { PacketConn } from "../lib/net/types.ts";
import {
  buildTunnelFloodInitiation,
  encodeTunnelKey,
  formatTunnelIPv4,
  type TunDevice,
  TunnelClient,
  tunnelMessages,
  TunnelServer,
  type TunnelStats,
} from "../lib/tunnel/mod.ts";
import type { ClientConfig, ServerConfig } from "./config.ts";
import { parseIPv4, parseIPv6 } from "./ipaddr.ts";
import type { PeerReport } from "./report.ts";

export {
  encodeTunnelKey as encodeKey,
  generateTunnelPrivateKey as generatePrivateKey,
  tunnelPublicKey as publicKeyOf,
} from "../lib/tunnel/mod.ts";

/** A running core as the app sees it. */
export interface CoreHandle {
  stop(): Promise<void>;
  report(): {
    counters: Record<string, number>;
    drops: Record<string, number>;
    peers: PeerReport[];
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** `ip6` names each peer's IPv6 tunnel address (the core routes by its bytes only). */
function toReport(
  stats: TunnelStats,
  ip6 = new Map<string, string>(),
): ReturnType<CoreHandle["report"]> {
  return {
    counters: { ...stats.counters },
    drops: { ...stats.drops },
    peers: stats.peers.map((p) => ({
      name: p.name,
      publicKey: encodeTunnelKey(p.publicKey),
      // The client's view of its server has no tunnel IP (0).
      tunnelIp: p.tunnelIp ? formatTunnelIPv4(p.tunnelIp) : "-",
      ...(ip6.has(p.name) ? { tunnelIp6: ip6.get(p.name) } : {}),
      endpoint: p.endpoint,
      lastHandshake: iso(p.lastHandshake),
      bytesIn: p.bytesIn,
      bytesOut: p.bytesOut,
    })),
  };
}

/** Builds and starts the server core. */
export async function createServerCore(
  config: ServerConfig,
  tun: TunDevice,
  bind: PacketConn,
  log: Logger,
): Promise<CoreHandle> {
  const server = new TunnelServer({
    privateKey: config.privateKey,
    tunnelIp: config.tunnelIp.split("/")[0]!,
    peers: config.peers.map((p) => ({
      name: p.name,
      publicKey: p.publicKey,
      tunnelIp: p.tunnelIp,
      tunnelIp6: p.tunnelIp6,
    })),
    tun,
    bind,
    replayWindow: config.replayWindow,
    rateLimit: { perSecond: config.rateLimit.handshakesPerSecond, burst: config.rateLimit.burst },
    log: (line) => log.log(line),
  });
  await server.start();
  const ip6 = new Map(config.peers.flatMap((p) => (p.tunnelIp6 ? [[p.name, p.tunnelIp6]] : [])));
  return { stop: () => server.stop(), report: () => toReport(server.stats(), ip6) };
}

/** The server's IP address: the literal in the config, else its A record, else its AAAA. */
export async function serverAddress(config: ClientConfig): Promise<string> {
  const host = config.serverHost;
  if (parseIPv4(host) !== null || parseIPv6(host) !== null) return host;
  for (const type of ["A", "AAAA"] as const) {
    const [addr] = await Deno.resolveDns(host, type).catch(() => []);
    if (addr) return addr;
  }
  throw new TypeError(`${config.file}: server: ${host} has no IPv4 or IPv6 address`);
}

/** Builds and starts the client core; `host` is {@link serverAddress}. */
export async function createClientCore(
  config: ClientConfig,
  tun: TunDevice,
  bind: PacketConn,
  log: Logger,
  host: string,
): Promise<CoreHandle> {
  const client = new TunnelClient({
    privateKey: config.privateKey,
    serverPublicKey: config.serverPublicKey,
    server: new HostPortAddr("udp", host, config.serverPort),
    tun,
    bind,
    keepaliveSeconds: config.keepalive,
    replayWindow: config.replayWindow,
    log: (line) => log.log(line),
  });
  await client.start();
  return { stop: () => client.stop(), report: () => toReport(client.stats()) };
}

/**
 * The flood's payload: a fresh INIT (no cookie) with a valid mac1 for the
 * server's public key, as any attacker can build, so that it passes the cheap
 * mac1 check and reaches the cookie gate.
 */
export function floodPayload(serverPublicKey: Uint8Array): () => Uint8Array {
  return () => buildTunnelFloodInitiation(serverPublicKey);
}

/** True for a transport data packet (what the replay relay captures). */
export function isDataPacket(packet: Uint8Array): boolean {
  return tunnelMessages.messageType(packet) === tunnelMessages.MSG_DATA &&
    packet.length >= tunnelMessages.KEEPALIVE_SIZE;
}
