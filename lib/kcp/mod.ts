/**
 * KCP, wire-compatible with xtaci/kcp-go v5: segment codec, a pure engine
 * (no I/O), a session ({@link KcpSession}, a Conn) over any PacketConn, and a
 * listener demultiplexing sessions by remote address.
 *
 * @example
 * ```ts
 * import { memoryPacketPair } from "../net/mod.ts";
 * import { dialKcp, listenKcp, SNOWFLAKE_KCP } from "./mod.ts";
 * const [a, b] = memoryPacketPair();
 * const listener = listenKcp(b, SNOWFLAKE_KCP);
 * const client = dialKcp(a, b.localAddr, SNOWFLAKE_KCP);
 * ```
 *
 * @module
 */
export * from "./segment.ts";
export { crc32, CRYPT_HEADER_SIZE, NONCE_SIZE, openNone, sealNone } from "./crypt.ts";
export { KcpEngine, type KcpStats } from "./engine.ts";
export { type KcpOptions, resolveOptions, SNOWFLAKE_KCP } from "./options.ts";
export { dialKcp, KcpSession, type KcpSessionStats, randomConv } from "./session.ts";
export { KcpListener, type KcpListenerStats, listenKcp } from "./listener.ts";
