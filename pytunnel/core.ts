/**
 * The seam between the pytunnel app and the protocol core in lib/tunnel:
 * key helpers, building a server or client core from a validated config, and
 * turning the core's stats into the report operators see.
 *
 * lib/tunnel's core (team TUNCORE) had not landed when this was written, so the
 * app runs on its own core in pytunnel/proto/; switch the imports here when it does.
 *
 * @module
 */

import type { Logger } from "../lib/log/logger.ts";
import type { PacketConn } from "../lib/net/types.ts";
import { HostPortAddr } from "../lib/net/addr.ts";
import type { ClientConfig, ServerConfig } from "./config.ts";
import { formatIPv4, parseIPv4 } from "./ipaddr.ts";
import { type CoreStats, type TunDevice, TunnelClient, TunnelServer } from "./proto/tunnel.ts";
import { buildInit, messageType, MSG_DATA } from "./proto/wire.ts";
import type { PeerReport } from "./report.ts";

/** A running core as the app sees it. */
export interface CoreHandle {
  stop(): Promise<void>;
  report(): {
    counters: Record<string, number>;
    drops: Record<string, number>;
    peers: PeerReport[];
  };
}

const PKCS8_X25519 = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** Standard base64 of a key. */
export function encodeKey(key: Uint8Array): string {
  return btoa(String.fromCharCode(...key));
}

/** A new X25519 private key (32 bytes). */
export async function generatePrivateKey(): Promise<Uint8Array> {
  const kp = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", kp.privateKey)).slice(-32);
}

/** The X25519 public key of a private key. */
export async function publicKeyOf(priv: Uint8Array): Promise<Uint8Array> {
  const pkcs8 = new Uint8Array(PKCS8_X25519.length + 32);
  pkcs8.set(PKCS8_X25519);
  pkcs8.set(priv, PKCS8_X25519.length);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, true, [
    "deriveBits",
  ]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const b64 = jwk.x!.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function toReport(stats: CoreStats): ReturnType<CoreHandle["report"]> {
  return {
    counters: { ...stats.counters },
    drops: { ...stats.drops },
    peers: stats.peers.map((p) => ({
      name: p.name,
      publicKey: encodeKey(p.publicKey),
      tunnelIp: p.tunnelIp ? formatIPv4(p.tunnelIp) : "-",
      endpoint: p.endpoint,
      lastHandshake: iso(p.lastHandshake),
      bytesIn: p.bytesIn,
      bytesOut: p.bytesOut,
    })),
  };
}

/** Builds and starts the server core. */
export function createServerCore(
  config: ServerConfig,
  tun: TunDevice,
  bind: PacketConn,
  log: Logger,
): Promise<CoreHandle> {
  const server = new TunnelServer({
    privateKey: config.privateKey,
    tunnelIp: parseIPv4(config.tunnelIp.split("/")[0]!)!,
    peers: config.peers.map((p) => ({
      name: p.name,
      publicKey: p.publicKey,
      tunnelIp: parseIPv4(p.tunnelIp)!,
    })),
    tun,
    bind,
    replayWindow: config.replayWindow,
    rateLimit: { perSecond: config.rateLimit.handshakesPerSecond, burst: config.rateLimit.burst },
    log: (line) => log.log(line),
  });
  server.start();
  return Promise.resolve({ stop: () => server.stop(), report: () => toReport(server.stats()) });
}

/** Builds and starts the client core. */
export async function createClientCore(
  config: ClientConfig,
  tun: TunDevice,
  bind: PacketConn,
  log: Logger,
): Promise<CoreHandle> {
  let host = config.serverHost;
  if (parseIPv4(host) === null) {
    const [addr] = await Deno.resolveDns(host, "A");
    if (!addr) throw new TypeError(`${config.file}: server: ${host} has no IPv4 address`);
    host = addr;
  }
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
  client.start();
  return { stop: () => client.stop(), report: () => toReport(client.stats()) };
}

/** One handshake initiation without a cookie, fresh each call (the flood's payload). */
export function floodPayload(): Uint8Array {
  return buildInit(crypto.getRandomValues(new Uint32Array(1))[0]!);
}

/** True for a transport data packet (what the replay relay captures). */
export function isDataPacket(packet: Uint8Array): boolean {
  return messageType(packet) === MSG_DATA;
}
