/**
 * lib/tunnel: the protocol core of pytunnel, a TUN VPN with a Noise-IK-style
 * handshake (X25519 static + ephemeral, HKDF-SHA256), XSalsa20-Poly1305 data,
 * stateless DoS cookies, per-source handshake rate limits, a WireGuard-class
 * replay window, session timers, roaming and an IPv4 ACL / routing table.
 * See README.md for the wire format.
 *
 * ```ts
 * const net = new TunnelMemoryNetwork();
 * const serverKey = generateTunnelPrivateKey();
 * const clientKey = generateTunnelPrivateKey();
 * const server = new TunnelServer({
 *   privateKey: serverKey, tunnelIp: "10.9.0.1", tun: memoryTunPair("s").device,
 *   bind: net.bindHostPort("192.0.2.1", 51820),
 *   peers: [{ name: "a", publicKey: tunnelPublicKey(clientKey), tunnelIp: "10.9.0.2" }],
 * });
 * await server.start();
 * ```
 *
 * @module
 */
export {
  loadTunnelCipher,
  TUNNEL_KEY_LEN,
  TUNNEL_NONCE_LEN,
  TUNNEL_TAG_LEN,
  type TunnelCipher,
  type TunnelCipherKind,
} from "./cipher.ts";
export { LIBSODIUM_PATHS as TUNNEL_LIBSODIUM_PATHS, tunnelCipherFfi } from "./cipher_ffi.ts";
export { tunnelCipherWasm } from "./cipher_wasm.ts";
export { tunnelCipherNoble } from "./cipher_noble.ts";
export { TUNNEL_SYSTEM_CLOCK, type TunnelClock, TunnelManualClock } from "./clock.ts";
export { TunnelCookieChecker } from "./cookie.ts";
/** mac1 / mac2 / cookie helpers (cookie.ts). */
export * as tunnelCookie from "./cookie.ts";
/** The handshake steps, for tools and tests (handshake.ts). */
export * as tunnelHandshake from "./handshake.ts";
export type { TunnelInitiation, TunnelReceivedInitiation, TunnelSessionKeys } from "./handshake.ts";
export { formatTunnelIPv4, parseTunnelIPv4 } from "./ipv4.ts";
export {
  decodeTunnelKey,
  encodeTunnelKey,
  generateTunnelPrivateKey,
  TunnelKeyPair,
  tunnelPublicKey,
} from "./keys.ts";
export * as tunnelMessages from "./messages.ts";
export {
  memoryTunPair,
  type TunnelMemoryEndpoint,
  TunnelMemoryNetwork,
  TunnelMemoryTun,
} from "./memory.ts";
export { TunnelRateLimiter } from "./ratelimit.ts";
export { TUNNEL_REPLAY_WINDOW, TunnelReplayWindow } from "./replay.ts";
export { TunnelSession } from "./session.ts";
export { TunnelServer, type TunnelServerOptions, type TunnelServerPeer } from "./server.ts";
export { TunnelClient, type TunnelClientOptions } from "./client.ts";
export { buildTunnelFloodInitiation } from "./flood.ts";
export {
  type TunDevice,
  TUNNEL_DEFAULT_LIMITS,
  type TunnelCounters,
  type TunnelDrops,
  type TunnelEvent,
  type TunnelLimits,
  type TunnelPeerStats,
  type TunnelStats,
} from "./types.ts";
