/**
 * The broker's usage counts: the Go broker's metrics log block (served at `/metrics` and
 * appended to `--metrics-log` once per interval) and Prometheus text at `/prometheus`.
 * Counts in the log block are rounded up to multiples of 8 and proxy addresses are only
 * counted, never kept past an interval, as in Go.
 *
 * @module
 */
import type { NatType } from "../../lib/snowflake/messages.ts";

export type RendezvousMethod = "http" | "ampcache" | "sqs";
export const RENDEZVOUS_METHODS: readonly RendezvousMethod[] = ["http", "ampcache", "sqs"];

/** Go's binCount: round up to a multiple of 8. */
export function binCount(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** A counter keyed by a label string, for Prometheus. */
class LabeledCounter {
  readonly values = new Map<string, number>();
  inc(labels: string): void {
    this.values.set(labels, (this.values.get(labels) ?? 0) + 1);
  }
}

export class BrokerMetrics {
  #start: number;
  #now: () => number;
  // Per interval (reset by `rotate`).
  #proxyIps = new Map<string, Set<string>>(); // by proxy type
  #natIps = new Map<NatType, Set<string>>();
  #proxyIdle = 0;
  #pollWithRelayUrl = 0;
  #pollWithoutRelayUrl = 0;
  #pollRejectedRelayUrl = 0;
  #clientDenied = { restricted: 0, unrestricted: 0, unknown: 0 };
  #clientMatched = 0;
  #clientTimedOut = 0;
  #clientByMethod = new Map<RendezvousMethod, number>();
  // Since start (Prometheus counters never reset).
  #promProxyPolls = new LabeledCounter();
  #promClientPolls = new LabeledCounter();
  #promProxyTotal = new LabeledCounter();
  /** The latest client round trip (match → answer), ms. */
  clientRoundTripMs = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#start = now();
  }

  proxyPoll(ip: string, type: string, nat: NatType, relayUrlAware: boolean): void {
    let set = this.#proxyIps.get(type);
    if (!set) this.#proxyIps.set(type, set = new Set());
    if (!set.has(ip)) this.#promProxyTotal.inc(`nat="${nat}",type="${type}"`);
    set.add(ip);
    let natSet = this.#natIps.get(nat);
    if (!natSet) this.#natIps.set(nat, natSet = new Set());
    natSet.add(ip);
    if (relayUrlAware) this.#pollWithRelayUrl++;
    else this.#pollWithoutRelayUrl++;
  }

  proxyRejectedRelayPattern(): void {
    this.#pollRejectedRelayUrl++;
  }

  proxyIdle(nat: NatType): void {
    this.#proxyIdle++;
    this.#promProxyPolls.inc(`nat="${nat}",status="idle"`);
  }

  proxyMatched(nat: NatType): void {
    this.#promProxyPolls.inc(`nat="${nat}",status="matched"`);
  }

  client(method: RendezvousMethod, nat: NatType, outcome: "matched" | "denied" | "timeout"): void {
    this.#clientByMethod.set(method, (this.#clientByMethod.get(method) ?? 0) + 1);
    if (outcome === "matched") this.#clientMatched++;
    else if (outcome === "denied") this.#clientDenied[nat]++;
    else this.#clientTimedOut++;
    this.#promClientPolls.inc(`nat="${nat}",status="${outcome}",rendezvous_method="${method}"`);
  }

  /** The Go broker's metrics block for the interval so far. */
  logBlock(): string {
    const end = new Date(this.#now()).toISOString().replace("T", " ").slice(0, 19);
    const seconds = Math.round((this.#now() - this.#start) / 1000);
    const lines = [`snowflake-stats-end ${end} (${seconds} s)`];
    let total = 0;
    for (const [type, ips] of [...this.#proxyIps].sort()) {
      lines.push(`snowflake-ips-${type} ${ips.size}`);
      total += ips.size;
    }
    const denied = this.#clientDenied;
    const methods = RENDEZVOUS_METHODS.map((m) =>
      `client-${m}-count ${binCount(this.#clientByMethod.get(m) ?? 0)}`
    );
    lines.push(
      `snowflake-ips-total ${total}`,
      `snowflake-idle-count ${binCount(this.#proxyIdle)}`,
      `snowflake-proxy-poll-with-relay-url-count ${binCount(this.#pollWithRelayUrl)}`,
      `snowflake-proxy-poll-without-relay-url-count ${binCount(this.#pollWithoutRelayUrl)}`,
      `snowflake-proxy-rejected-for-relay-url-count ${binCount(this.#pollRejectedRelayUrl)}`,
      `client-denied-count ${binCount(denied.restricted + denied.unrestricted + denied.unknown)}`,
      `client-restricted-denied-count ${binCount(denied.restricted + denied.unknown)}`,
      `client-unrestricted-denied-count ${binCount(denied.unrestricted)}`,
      `client-snowflake-match-count ${binCount(this.#clientMatched)}`,
      `client-snowflake-timeout-count ${binCount(this.#clientTimedOut)}`,
      ...methods,
      `snowflake-ips-nat-restricted ${this.#natIps.get("restricted")?.size ?? 0}`,
      `snowflake-ips-nat-unrestricted ${this.#natIps.get("unrestricted")?.size ?? 0}`,
      `snowflake-ips-nat-unknown ${this.#natIps.get("unknown")?.size ?? 0}`,
    );
    return lines.join("\n") + "\n";
  }

  /** Starts a new interval (after its block was logged). */
  rotate(): void {
    this.#start = this.#now();
    this.#proxyIps.clear();
    this.#natIps.clear();
    this.#proxyIdle = this.#pollWithRelayUrl = this.#pollWithoutRelayUrl = 0;
    this.#pollRejectedRelayUrl = this.#clientMatched = this.#clientTimedOut = 0;
    this.#clientDenied = { restricted: 0, unrestricted: 0, unknown: 0 };
    this.#clientByMethod.clear();
  }

  /** Prometheus text exposition; `available` is the waiting proxies by `nat="",type=""`. */
  prometheus(available: Map<string, number>): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string, values: Map<string, number>) => {
      out.push(`# HELP snowflake_${name} ${help}`, `# TYPE snowflake_${name} ${type}`);
      for (const [labels, v] of values) out.push(`snowflake_${name}{${labels}} ${v}`);
    };
    family(
      "available_proxies",
      "gauge",
      "The number of currently available snowflake proxies",
      available,
    );
    family(
      "proxy_total",
      "counter",
      "The number of unique snowflake IPs",
      this.#promProxyTotal.values,
    );
    family(
      "rounded_proxy_poll_total",
      "counter",
      "The number of snowflake proxy polls, rounded up to a multiple of 8",
      new Map([...this.#promProxyPolls.values].map(([k, v]) => [k, binCount(v)])),
    );
    family(
      "rounded_client_poll_total",
      "counter",
      "The number of snowflake client polls, rounded up to a multiple of 8",
      new Map([...this.#promClientPolls.values].map(([k, v]) => [k, binCount(v)])),
    );
    family(
      "client_roundtrip_ms",
      "gauge",
      "The latest client match to answer time",
      new Map([["", this.clientRoundTripMs]]),
    );
    return out.join("\n") + "\n";
  }
}
