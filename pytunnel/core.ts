/**
 * The seam between the pytunnel app and the protocol core in lib/tunnel:
 * key helpers, building a server or client core from a validated config, and
 * turning the core's stats into the report operators see.
 *
 * @module
 */

import type { Logger } from "../lib/log/logger.ts";
import type { PacketConn } from "../lib/net/types.ts";
import type { LinuxTun } from "../lib/tunnel/tun_linux.ts";
import type { ClientConfig, ServerConfig } from "./config.ts";
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

const MISSING = "the tunnel core (lib/tunnel/mod.ts) is not in this build yet";

/** Builds and starts the server core. */
export function createServerCore(
  _config: ServerConfig,
  _tun: LinuxTun,
  _bind: PacketConn,
  _log: Logger,
): Promise<CoreHandle> {
  return Promise.reject(new Error(MISSING));
}

/** Builds and starts the client core. */
export function createClientCore(
  _config: ClientConfig,
  _tun: LinuxTun,
  _bind: PacketConn,
  _log: Logger,
): Promise<CoreHandle> {
  return Promise.reject(new Error(MISSING));
}

/** One handshake initiation without a cookie, fresh each call (the flood's payload). */
export function floodPayload(): Uint8Array {
  throw new Error(MISSING);
}

/** True for a transport data packet (what the replay relay captures). */
export function isDataPacket(_packet: Uint8Array): boolean {
  throw new Error(MISSING);
}
