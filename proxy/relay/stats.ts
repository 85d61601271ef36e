/**
 * The proxy's counters: the periodic summary line in the log and the Prometheus metrics.
 * Plain numbers, no I/O.
 *
 * @module
 */

/** Counters since start (`total`) and since the last summary (`window`). */
export class ProxyStats {
  /** Client connections whose data channel opened. */
  connections = 0;
  /** Client connections open now. */
  active = 0;
  /** Bytes from clients to the relay, and from the relay to clients. */
  bytesFromClients = 0;
  bytesToClients = 0;
  polls = 0;
  pollErrors = 0;
  offers = 0;
  /** Offers whose relay URL the safeguards refused. */
  refusedRelays = 0;
  /** Answers the broker could not deliver (the client was gone). */
  clientsGone = 0;
  /** Data channels that did not open in time. */
  openTimeouts = 0;
  /** Relays closed after a period without traffic. */
  inactivityCloses = 0;
  relayDialErrors = 0;

  #window = { connections: 0, fromClients: 0, toClients: 0 };

  addFromClient(n: number): void {
    this.bytesFromClients += n;
    this.#window.fromClients += n;
  }

  addToClient(n: number): void {
    this.bytesToClients += n;
    this.#window.toClients += n;
  }

  connected(): void {
    this.connections++;
    this.active++;
    this.#window.connections++;
  }

  /**
   * The summary line Go's proxy logs, for the window since the last call:
   * `In the last 1h0m0s, there were 3 completed connections. Traffic Relayed ↓ 12 KB (0.01 KB/s), ↑ 3 KB (0.00 KB/s).`
   * (↓ is what clients downloaded through us, ↑ what they uploaded.)
   */
  takeSummary(intervalMs: number): string {
    const w = this.#window;
    this.#window = { connections: 0, fromClients: 0, toClients: 0 };
    const s = intervalMs / 1000;
    const kb = (n: number) => `${Math.round(n / 1000)} KB (${(n / 1000 / s).toFixed(2)} KB/s)`;
    return `In the last ${goDuration(intervalMs)}, there were ${w.connections} connections` +
      ` (${this.active} open now). Traffic Relayed ↓ ${kb(w.toClients)}, ↑ ${kb(w.fromClients)}.`;
  }

  /** The Prometheus text exposition; `nat` becomes a labelled gauge. */
  prometheus(nat: string): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, value: number, label = "") => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${label} ${value}`);
    };
    const p = "tor_snowflake_proxy_";
    metric(`${p}connections_total`, "counter", "client connections opened", this.connections);
    metric(`${p}connections_active`, "gauge", "client connections open now", this.active);
    metric(
      `${p}traffic_inbound_bytes_total`,
      "counter",
      "bytes from clients",
      this.bytesFromClients,
    );
    metric(
      `${p}traffic_outbound_bytes_total`,
      "counter",
      "bytes to clients",
      this.bytesToClients,
    );
    metric(
      `${p}connection_timeouts_total`,
      "counter",
      "data channels that never opened",
      this.openTimeouts,
    );
    metric(
      `${p}inactivity_closes_total`,
      "counter",
      "relays closed when idle",
      this.inactivityCloses,
    );
    metric(`${p}polls_total`, "counter", "broker polls", this.polls);
    metric(`${p}poll_errors_total`, "counter", "broker polls that failed", this.pollErrors);
    metric(`${p}offers_total`, "counter", "client offers received", this.offers);
    metric(
      `${p}refused_relays_total`,
      "counter",
      "offers refused by the relay safeguards",
      this.refusedRelays,
    );
    metric(
      `${p}clients_gone_total`,
      "counter",
      "answers the broker could not deliver",
      this.clientsGone,
    );
    metric(
      `${p}relay_dial_errors_total`,
      "counter",
      "relay WebSocket dials that failed",
      this.relayDialErrors,
    );
    metric(`${p}nat_type`, "gauge", "the NAT type found by the last probe", 1, `{type="${nat}"}`);
    return lines.join("\n") + "\n";
  }
}

/** Milliseconds the way Go prints a time.Duration (`1h0m0s`, `30s`, `1.5s`, `250ms`). */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Parses a Go duration (`24h`, `1h30m`, `10s`, `500ms`, `0s`) into milliseconds. */
export function parseGoDuration(text: string): number {
  if (text === "0") return 0;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new SyntaxError(`time: invalid duration ${JSON.stringify(text)}`);
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (text === "") throw new SyntaxError(`time: invalid duration ""`);
  return Math.round(total);
}
