/**
 * Network interfaces shared by every layer, and their in-memory twins.
 *
 * @module
 */
export type { Addr, Conn, Dialer, Listener, Packet, PacketConn } from "./types.ts";
export { HostPortAddr, NamedAddr } from "./addr.ts";
export { ClosedError, TimeoutError } from "./errors.ts";
export { AsyncQueue } from "./queue.ts";
export {
  type LossOptions,
  LossyPacketConn,
  type MemoryConn,
  memoryConnPair,
  MemoryListener,
  MemoryPacketConn,
  memoryPacketPair,
  MemorySwitch,
} from "./memory.ts";
export { UdpPacketConn } from "./udp.ts";
export {
  dialWebSocket,
  type DialWebSocketOptions,
  type WebSocketConn,
  webSocketConn,
  type WebSocketConnOptions,
} from "./websocket.ts";
export { type ByteConn, readFull, writeAll } from "./io.ts";
export { sleep } from "./sleep.ts";
