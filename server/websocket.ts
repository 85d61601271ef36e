/**
 * The server's WebSocket listener glue: upgrades a request with Deno's WebSocket and
 * turns the socket into a byte-stream {@link Conn} for {@link Carriers.serve}. Text
 * messages and messages over the size limit close the connection before they reach the
 * carrier (counted as `textMessages` / `floodCloses`).
 *
 * @module
 */
import { type Conn, webSocketConn } from "../lib/net/mod.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Upgrades `req` (a WebSocket request) and returns the Conn and the 101 response. No Deno
 * ping timer (idleTimeout 0): the carriers' idle deadline closes silent connections, and
 * Deno's timer is not cleared on close, so it kept every closed connection alive for 30 s.
 */
export function upgradeToConn(
  req: Request,
  maxMessage: number,
  metrics: Metrics,
): { conn: Conn; response: Response } {
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
  socket.binaryType = "arraybuffer";
  // Registered before webSocketConn's own listener, so a refused message never reaches it.
  socket.addEventListener("message", (ev: MessageEvent) => {
    const d = ev.data;
    const refuse = typeof d === "string"
      ? (metrics.counters.textMessages++, true)
      : (d as ArrayBuffer).byteLength > maxMessage && (metrics.counters.floodCloses++, true);
    if (!refuse) return;
    ev.stopImmediatePropagation();
    socket.close();
  });
  return { conn: webSocketConn(socket), response };
}
