/**
 * Turbo Tunnel plumbing (PROTOCOL.md §1, §5): the token and ClientID that start every proxy
 * connection, the server's QueuePacketConn/ClientMap and the client's RedialPacketConn, so
 * one KCP session outlives any single proxy.
 *
 * @example Client: one ClientID, a fresh proxy per dial, KCP on top.
 * ```ts ignore
 * const id = ClientID.random();
 * const pconn = new RedialPacketConn(serverAddr, async (signal) =>
 *   openTurbotunnel(await proxyDialer.dial(signal), id));
 * const kcp = dialKcp(pconn, serverAddr, SNOWFLAKE_KCP);
 * ```
 *
 * @example Server: every accepted connection feeds one QueuePacketConn under a KCP listener.
 * ```ts ignore
 * const queues = new QueuePacketConn(localAddr);
 * const listener = listenKcp(queues, SNOWFLAKE_KCP);
 * // per WebSocket connection `conn`:
 * const { id, packets } = await acceptTurbotunnel(conn);
 * await pumpTurbotunnel(packets, id, queues);
 * ```
 *
 * @module
 */
export { CLIENT_ID_LENGTH, ClientID, TOKEN } from "./client_id.ts";
export {
  CLIENT_MAP_TIMEOUT_MS,
  ClientMap,
  type ClientMapOptions,
  QUEUE_SIZE,
} from "./client_map.ts";
export { QueuePacketConn } from "./queue_packet_conn.ts";
export { type RedialOptions, RedialPacketConn } from "./redial_packet_conn.ts";
export {
  type AcceptedTurbotunnel,
  acceptTurbotunnel,
  openTurbotunnel,
  pumpTurbotunnel,
} from "./handshake.ts";
