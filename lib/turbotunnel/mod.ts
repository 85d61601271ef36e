/**
 * Turbo Tunnel plumbing (docs/PROTOCOL.md §5, docs/ARCHITECTURE.md): one KCP
 * session outlives any single proxy because every proxy connection (a *carrier*) names
 * its client with a ClientID, and packets wait in that client's send queue between
 * carriers.
 *
 * - {@link ClientID}, {@link TOKEN}: what starts every carrier.
 * - {@link CarrierParser}: the sans-I/O parser of a carrier's incoming bytes (header, then
 *   encapsulated packets, with a `maxLength` that refuses an oversized prefix at once).
 * - {@link SendQueue}/{@link SendQueues}: the one per-ClientID send queue (bounded in
 *   packets and bytes, several fair carriers at once, injected clock, expiry).
 * - {@link serveCarrier}/{@link runCarrier}: the one carrier pump, server and client side.
 * - {@link QueuePacketConn}: the server's PacketConn under a KCP listener.
 * - {@link RedialPacketConn}: the client's PacketConn, redialing a carrier when one ends.
 * - {@link MultiplexingPacketConn}: the multipath client's PacketConn, one KCP session striped
 *   over several carriers by a {@link PathMonitor} (delivery-weighted, fast death rule).
 *
 * @example Client: one ClientID, a fresh proxy per dial, KCP on top.
 * ```ts ignore
 * const id = ClientID.random();
 * const pconn = new RedialPacketConn(id, serverAddr, (signal) => proxyDialer.dial(signal));
 * const kcp = dialKcp(pconn, serverAddr, SNOWFLAKE_KCP);
 * ```
 *
 * @example Server: every carrier feeds one QueuePacketConn under a KCP listener.
 * ```ts ignore
 * const pconn = new QueuePacketConn(localAddr, { onPath: (id, up) => ... });
 * const listener = listenKcp(pconn, SNOWFLAKE_KCP);
 * // per accepted Conn `conn` (a WebSocket, a data channel, a memory twin):
 * const end = await serveCarrier(conn, (id) => pconn.endpoint(id));
 * ```
 *
 * @module
 */
export { CLIENT_ID_LENGTH, ClientID, TOKEN } from "./client_id.ts";
export {
  CarrierError,
  type CarrierFault,
  CarrierParser,
  type CarrierParserOptions,
  encodeCarrierHeader,
  HEADER_LENGTH,
} from "./carrier_parser.ts";
export {
  type Batch,
  CLIENT_MAP_TIMEOUT_MS,
  DEFAULT_SEND_QUEUE_LIMITS,
  QUEUE_SIZE,
  SendQueue,
  type SendQueueLimits,
  SendQueues,
  type SendQueuesOptions,
} from "./send_queue.ts";
export {
  type CarrierEnd,
  type CarrierEndpoint,
  type CarrierOptions,
  type CarrierStats,
  carrierStats,
  runCarrier,
  serveCarrier,
} from "./carrier.ts";
export { QueuePacketConn, type QueuePacketConnOptions } from "./queue_packet_conn.ts";
export { type RedialOptions, RedialPacketConn } from "./redial_packet_conn.ts";
export { type MultiplexingOptions, MultiplexingPacketConn } from "./multiplexing_packet_conn.ts";
export { PathMonitor, type PathMonitorOptions, type PathState } from "./path_monitor.ts";
