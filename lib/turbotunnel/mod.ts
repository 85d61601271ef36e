/**
 * Turbo Tunnel plumbing (PROTOCOL.md §1, §5): the token and ClientID that start every proxy
 * connection, the server's QueuePacketConn/ClientMap and the client's RedialPacketConn, so
 * one KCP session outlives any single proxy.
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
