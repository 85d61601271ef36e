/**
 * The broker's rendezvous core, transport-free: proxies long-poll for a client, clients post
 * an offer, the matched proxy posts its answer (README "Broker"; docs/BROKER.md).
 * HTTP, AMP and SQS all call {@link Broker.clientPoll}; HTTP calls the proxy side.
 *
 * Matching (as the current Go broker): an unrestricted client gets a restricted proxy when one
 * is waiting, else an unrestricted one; a restricted or unknown client only an unrestricted
 * one. A proxy whose NAT is unknown waits with the restricted ones. Within a class the least
 * loaded proxy (fewest clients, then earliest poll) goes first.
 *
 * @module
 */
import type { Logger } from "../../lib/log/mod.ts";
import {
  decodeAnswerRequest,
  decodeClientPollRequest,
  decodeProxyPollRequest,
  encodeAnswerResponse,
  encodeClientPollResponse,
  encodeProxyPollResponse,
  ERR_NO_PROXIES,
  ERR_TIMED_OUT,
  MessageError,
  type NatType,
  STATUS_BAD_RELAY_PATTERN,
  STATUS_CLIENT_MATCH,
  STATUS_NO_MATCH,
} from "../../lib/snowflake/messages.ts";
import { NameMatcher } from "../../lib/snowflake/name_matcher.ts";
import { type BridgeList, ERR_BRIDGE_NOT_FOUND } from "./bridge_list.ts";
import { ProxyHeap } from "./heap.ts";
import { BrokerMetrics, type RendezvousMethod } from "./metrics.ts";
import { PollPacer } from "./pacer.ts";

/** How long a client waits for its proxy's answer after the match. */
export const CLIENT_TIMEOUT_MS = 5_000;
/** How long a proxy's poll is held waiting for a client. */
export const PROXY_TIMEOUT_MS = 10_000;

export interface BrokerOptions {
  bridges: BridgeList;
  /** The relay hosts this broker's bridges live on; proxies must accept at least these. */
  allowedRelayPattern: string;
  /** The pattern assumed for proxies that send none (pre-1.3). Default "". */
  defaultRelayPattern?: string;
  clientTimeoutMs?: number;
  proxyTimeoutMs?: number;
  pacer?: PollPacer;
  metrics?: BrokerMetrics;
  log?: Logger;
}

/** An HTTP-shaped reply of the proxy endpoints. */
export interface Reply {
  status: number;
  body: string;
}

interface ClientOffer {
  offer: string;
  nat: NatType;
  relayURL: string;
}

/** A proxy waiting in a heap for a client. */
interface WaitingProxy {
  sid: string;
  type: string;
  nat: NatType;
  clients: number;
  seq: number;
  heapIndex: number;
  /** When the poll is answered "no match" (ms since the epoch). */
  deadline: number;
  done: boolean;
  deliver(offer: ClientOffer | null): void;
}

/** How often expired polls are swept (one timer for all proxies, not one each). */
const SWEEP_MS = 100;

export class Broker {
  readonly metrics: BrokerMetrics;
  readonly pacer: PollPacer;
  #bridges: BridgeList;
  #allowed: NameMatcher;
  #allowedRule: string;
  #legacyPattern: NameMatcher;
  #clientTimeoutMs: number;
  #proxyTimeoutMs: number;
  #log?: Logger;
  #unrestricted = new ProxyHeap<WaitingProxy>();
  #restricted = new ProxyHeap<WaitingProxy>();
  #waiting = new Map<string, WaitingProxy>();
  /** Matched proxies whose answer a client awaits, by sid. */
  #awaitingAnswer = new Map<string, (answer: string) => void>();
  #seq = 0;
  /** Waiting proxies in poll order; all share one timeout, so deadlines only grow. */
  #expiry: WaitingProxy[] = [];
  #expiryHead = 0;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(options: BrokerOptions) {
    this.#bridges = options.bridges;
    this.#allowedRule = options.allowedRelayPattern;
    this.#allowed = new NameMatcher(options.allowedRelayPattern);
    this.#legacyPattern = new NameMatcher(options.defaultRelayPattern ?? "");
    this.#clientTimeoutMs = options.clientTimeoutMs ?? CLIENT_TIMEOUT_MS;
    this.#proxyTimeoutMs = options.proxyTimeoutMs ?? PROXY_TIMEOUT_MS;
    this.metrics = options.metrics ?? new BrokerMetrics();
    this.pacer = options.pacer ?? new PollPacer();
    this.#log = options.log;
  }

  /** Proxies waiting now. */
  get waitingProxies(): number {
    return this.#waiting.size;
  }

  /** Replaces the bridge list (SIGHUP reload). */
  setBridges(bridges: BridgeList): void {
    this.#bridges = bridges;
  }

  /**
   * A proxy's poll: held until a client's offer arrives (`client match`) or the proxy
   * timeout (`no match`), or until `signal` aborts (the proxy went away). 400 for a malformed
   * poll.
   */
  async proxyPoll(body: string, remoteIp: string, signal?: AbortSignal): Promise<Reply> {
    let req;
    try {
      req = decodeProxyPollRequest(body);
    } catch {
      return { status: 400, body: "" };
    }
    const aware = req.acceptedRelayPattern !== undefined;
    this.metrics.proxyPoll(remoteIp, req.type, req.nat, aware);
    const accepted = aware ? new NameMatcher(req.acceptedRelayPattern!) : this.#legacyPattern;
    if (!accepted.covers(this.#allowed)) {
      this.metrics.proxyRejectedRelayPattern();
      this.#log?.log(
        `proxy ${req.type} rejected: its relay pattern does not cover ${this.#allowedRule}`,
      );
      return { status: 200, body: encodeProxyPollResponse({ status: STATUS_BAD_RELAY_PATTERN }) };
    }
    const offer = await this.#waitForClient(req.sid, req.type, req.nat, req.clients, signal);
    if (!offer) {
      this.metrics.proxyIdle(req.nat);
      const nextPoll = this.pacer.nextPoll(this.#waiting.size);
      return { status: 200, body: encodeProxyPollResponse({ status: STATUS_NO_MATCH, nextPoll }) };
    }
    this.metrics.proxyMatched(req.nat);
    return {
      status: 200,
      body: encodeProxyPollResponse({
        status: STATUS_CLIENT_MATCH,
        offer: offer.offer,
        nat: offer.nat,
        relayURL: offer.relayURL,
        nextPoll: this.pacer.nextPoll(this.#waiting.size),
      }),
    };
  }

  #waitForClient(
    sid: string,
    type: string,
    nat: NatType,
    clients: number,
    signal?: AbortSignal,
  ): Promise<ClientOffer | null> {
    // A second poll with the same sid replaces the first, which gets "no match".
    const previous = this.#waiting.get(sid);
    if (previous) this.#leave(previous, null);
    return new Promise((resolve) => {
      const proxy: WaitingProxy = {
        sid,
        type,
        nat,
        clients,
        seq: this.#seq++,
        heapIndex: -1,
        deadline: Date.now() + this.#proxyTimeoutMs,
        done: false,
        deliver: (offer) => {
          if (proxy.done) return;
          proxy.done = true;
          signal?.removeEventListener("abort", onAbort);
          resolve(offer);
        },
      };
      const onAbort = () => this.#leave(proxy, null);
      signal?.addEventListener("abort", onAbort, { once: true });
      (nat === "unrestricted" ? this.#unrestricted : this.#restricted).push(proxy);
      this.#waiting.set(sid, proxy);
      this.#expiry.push(proxy);
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
    });
  }

  /** Answers "no match" to every poll past its deadline. */
  #sweep(): void {
    const now = Date.now();
    const q = this.#expiry;
    while (this.#expiryHead < q.length) {
      const p = q[this.#expiryHead]!;
      if (!p.done && p.deadline > now) break;
      this.#expiryHead++;
      if (!p.done) this.#leave(p, null);
    }
    if (this.#expiryHead > 1024 && this.#expiryHead * 2 > q.length) {
      this.#expiry = q.slice(this.#expiryHead);
      this.#expiryHead = 0;
    }
    if (this.#expiryHead === this.#expiry.length) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
      this.#expiry = [];
      this.#expiryHead = 0;
    }
  }

  /** Takes a waiting proxy out of its heap and resolves its poll with `offer`. */
  #leave(proxy: WaitingProxy, offer: ClientOffer | null): void {
    if (this.#waiting.get(proxy.sid) === proxy) this.#waiting.delete(proxy.sid);
    (proxy.nat === "unrestricted" ? this.#unrestricted : this.#restricted).remove(proxy);
    proxy.deliver(offer);
  }

  #match(clientNat: NatType): WaitingProxy | undefined {
    if (clientNat === "unrestricted" && this.#restricted.size > 0) return this.#restricted.pop();
    return this.#unrestricted.pop();
  }

  /**
   * A client's 1.0 poll body → the encoded client poll response: the proxy's answer, or an
   * error (malformed poll, unknown bridge, no proxy, timeout). Never throws.
   */
  async clientPoll(body: string, method: RendezvousMethod, signal?: AbortSignal): Promise<string> {
    this.pacer.clientPoll();
    let offer: ClientOffer;
    try {
      const req = decodeClientPollRequest(body);
      offer = { offer: req.offer, nat: req.nat, relayURL: this.#relayUrlFor(req) };
    } catch (e) {
      const error = e instanceof MessageError ? e.message : `invalid poll: ${(e as Error).message}`;
      return encodeClientPollResponse({ error });
    }
    const proxy = this.#match(offer.nat);
    if (!proxy) {
      this.metrics.client(method, offer.nat, "denied");
      return encodeClientPollResponse({ error: ERR_NO_PROXIES });
    }
    const matchedAt = Date.now();
    this.#waiting.delete(proxy.sid);
    const answer = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), this.#clientTimeoutMs);
      const onAbort = () => resolve(null);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#awaitingAnswer.set(proxy.sid, (a) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(a);
      });
    });
    proxy.deliver(offer);
    const result = await answer;
    this.#awaitingAnswer.delete(proxy.sid);
    if (result === null) {
      this.metrics.client(method, offer.nat, "timeout");
      this.#log?.log(`client (${method}, ${offer.nat}): timed out waiting for the proxy's answer`);
      return encodeClientPollResponse({ error: ERR_TIMED_OUT });
    }
    this.metrics.client(method, offer.nat, "matched");
    this.metrics.clientRoundTripMs = Date.now() - matchedAt;
    return encodeClientPollResponse({ answer: result });
  }

  /** Where the proxy relays this client: its relayURL if allowed, else its bridge's URL. */
  #relayUrlFor(req: { fingerprint: string; relayURL?: string }): string {
    if (req.relayURL) {
      let host: string;
      try {
        host = new URL(req.relayURL).host;
      } catch (e) {
        throw new MessageError(`Invalid relayURL: ${(e as Error).message}`);
      }
      if (!this.#allowed.matches(host)) {
        throw new MessageError(`Unacceptable relayURL. Allowed pattern is: ${this.#allowedRule}`);
      }
      return req.relayURL;
    }
    const bridge = this.#bridges.get(req.fingerprint);
    if (!bridge) throw new MessageError(ERR_BRIDGE_NOT_FOUND);
    return bridge.webSocketAddress;
  }

  /**
   * A proxy's answer for the client it was matched with: `success` when that client is still
   * waiting, `client gone` otherwise. 400 for a malformed answer or an SDP without candidates.
   */
  answer(body: string): Reply {
    if (!body.includes("a=candidate")) return { status: 400, body: "" };
    let req;
    try {
      req = decodeAnswerRequest(body);
    } catch {
      return { status: 400, body: "" };
    }
    const deliver = this.#awaitingAnswer.get(req.sid);
    if (!deliver) return { status: 200, body: encodeAnswerResponse(false) };
    this.#awaitingAnswer.delete(req.sid);
    deliver(req.answer);
    return { status: 200, body: encodeAnswerResponse(true) };
  }

  /** Waiting proxies counted by `nat="…",type="…"` (Prometheus labels). */
  availableByLabels(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.#waiting.values()) {
      const key = `nat="${p.nat}",type="${p.type}"`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
    return out;
  }

  /** The `/debug` page, in the Go broker's format. */
  debug(): string {
    const types = new Map<string, number>();
    const nats = { restricted: 0, unrestricted: 0, unknown: 0 };
    let unknownTypes = 0;
    for (const p of this.#waiting.values()) {
      if (p.type === "unknown") unknownTypes++;
      else types.set(p.type, (types.get(p.type) ?? 0) + 1);
      nats[p.nat]++;
    }
    let s = `current snowflakes available: ${this.#waiting.size}\n`;
    for (const [t, n] of types) s += `\t${t} proxies: ${n}\n`;
    s += `\tunknown proxies: ${unknownTypes}`;
    s += "\nNAT Types available:";
    s += `\n\trestricted: ${nats.restricted}`;
    s += `\n\tunrestricted: ${nats.unrestricted}`;
    s += `\n\tunknown: ${nats.unknown}`;
    return s;
  }

  /** Answers every waiting proxy with "no match" (shutdown). */
  close(): void {
    for (const p of [...this.#waiting.values()]) this.#leave(p, null);
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
