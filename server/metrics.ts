/**
 * The server's counters and gauges, rendered in the Prometheus text format for the
 * optional `--metrics-address` listener.
 *
 * @module
 */

/** Monotonic counters (`_total` in Prometheus). */
export interface Counters {
  connections: number;
  badToken: number;
  badEncapsulation: number;
  oversizePackets: number;
  textMessages: number;
  handshakeTimeouts: number;
  idleTimeouts: number;
  floodCloses: number;
  sessions: number;
  streams: number;
  orportErrors: number;
  bytesFromClients: number;
  bytesToClients: number;
  packetsFromClients: number;
  packetsToClients: number;
  incomingDrops: number;
  outgoingDrops: number;
  /** Packets that crossed between Workers: the carrier landed off its client's owner. */
  forwardedPackets: number;
}

/** Current values. */
export interface Gauges {
  connectionsActive: number;
  sessionsActive: number;
  streamsActive: number;
  /** Bytes waiting in the clients' send queues. */
  queuedBytes: number;
}

const HELP: Record<keyof Counters | keyof Gauges, [string, string]> = {
  connections: ["snowflake_server_connections_total", "WebSocket connections accepted"],
  badToken: [
    "snowflake_server_bad_token_total",
    "connections closed for a wrong Turbo Tunnel token",
  ],
  badEncapsulation: [
    "snowflake_server_bad_encapsulation_total",
    "connections closed for malformed encapsulation",
  ],
  oversizePackets: ["snowflake_server_oversize_total", "connections closed for an oversize packet"],
  textMessages: ["snowflake_server_text_messages_total", "connections closed for a text message"],
  handshakeTimeouts: [
    "snowflake_server_handshake_timeouts_total",
    "connections closed before a ClientID arrived",
  ],
  idleTimeouts: ["snowflake_server_idle_timeouts_total", "connections closed for inactivity"],
  floodCloses: [
    "snowflake_server_flood_closes_total",
    "connections closed for an oversize message",
  ],
  sessions: ["snowflake_server_sessions_total", "KCP sessions accepted"],
  streams: ["snowflake_server_streams_total", "smux streams accepted"],
  orportErrors: ["snowflake_server_orport_errors_total", "failed ORPort/ExtORPort connections"],
  bytesFromClients: [
    "snowflake_server_client_bytes_received_total",
    "WebSocket payload bytes received",
  ],
  bytesToClients: ["snowflake_server_client_bytes_sent_total", "WebSocket payload bytes sent"],
  packetsFromClients: [
    "snowflake_server_client_packets_received_total",
    "Turbo Tunnel packets received",
  ],
  packetsToClients: ["snowflake_server_client_packets_sent_total", "Turbo Tunnel packets sent"],
  incomingDrops: [
    "snowflake_server_incoming_drops_total",
    "packets dropped: KCP receive queue full",
  ],
  outgoingDrops: [
    "snowflake_server_outgoing_drops_total",
    "packets dropped: client send queue full",
  ],
  forwardedPackets: [
    "snowflake_server_forwarded_packets_total",
    "packets between a carrier and its client's KCP instance in another Worker",
  ],
  connectionsActive: ["snowflake_server_connections", "open WebSocket connections"],
  sessionsActive: ["snowflake_server_sessions", "live KCP sessions"],
  streamsActive: ["snowflake_server_streams", "open smux streams"],
  queuedBytes: ["snowflake_server_send_queue_bytes", "bytes waiting in clients' send queues"],
};

export class Metrics {
  readonly counters: Counters = {
    connections: 0,
    badToken: 0,
    badEncapsulation: 0,
    oversizePackets: 0,
    textMessages: 0,
    handshakeTimeouts: 0,
    idleTimeouts: 0,
    floodCloses: 0,
    sessions: 0,
    streams: 0,
    orportErrors: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    packetsFromClients: 0,
    packetsToClients: 0,
    incomingDrops: 0,
    outgoingDrops: 0,
    forwardedPackets: 0,
  };
  readonly gauges: Gauges = {
    connectionsActive: 0,
    sessionsActive: 0,
    streamsActive: 0,
    queuedBytes: 0,
  };

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    let out = "";
    for (const [k, v] of Object.entries(this.counters)) {
      const [name, help] = HELP[k as keyof Counters];
      out += `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${v}\n`;
    }
    for (const [k, v] of Object.entries(this.gauges)) {
      const [name, help] = HELP[k as keyof Gauges];
      out += `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}\n`;
    }
    return out;
  }
}
