/**
 * The Snowflake proxy's core (docs/proxy.md): poll the broker, answer a client's offer, relay its
 * data channel to the WebSocket relay the broker names, within the operator's capacity,
 * timeouts and relay safeguards, and probe the NAT type. No Deno or Node API here: WebRTC,
 * the relay dialer, fetch, timers and the log are injected, so the `broker-proxy proxy` binary
 * (proxy/relay/main.ts) and a web page run the same code.
 *
 * Every peer connection is closed on every path (a @roamhq/wrtc one left open keeps the
 * process alive): each session closes its own in a `finally`, and `stop()` closes the rest.
 *
 * @module
 */
import type { Conn } from "../../lib/net/types.ts";
import {
  decodeAnswerResponse,
  decodeProxyPollResponse,
  deserializeSessionDescription,
  encodeAnswerRequest,
  encodeProxyPollRequest,
  type NatType,
  type ProxyPollResponse,
  serializeSessionDescription,
  STATUS_BAD_RELAY_PATTERN,
  STATUS_CLIENT_MATCH,
} from "../../lib/snowflake/messages.ts";
import { freeAfterWrite } from "../../lib/net/free_after_write.ts";
import {
  type DataChannelConn,
  dataChannelConn,
  type DataChannelConnOptions,
} from "../../lib/snowflake/datachannel.ts";
import {
  closePeer,
  type DataChannel,
  gatherLocalDescription,
  globalTimers,
  type PeerConnection,
  type PeerConnectionConfig,
  remoteIPFromSDP,
  stripLocalCandidates,
  type Timers,
  type WebRTC,
} from "../../lib/snowflake/webrtc.ts";
import { gatherUsable } from "../../lib/snowflake/gather.ts";
import { postText } from "./http.ts";
import { probeNATType } from "./probe.ts";
import { type RelayPolicy, relayRefusal } from "./safeguards.ts";
import { goDuration, ProxyStats } from "./stats.ts";

/** What the operator chose (flags in the binary). Times in milliseconds. */
export interface ProxyConfig {
  brokerURL: string;
  /** Where to relay when the broker names no relay. */
  defaultRelayURL: string;
  stunURLs: string[];
  /** Most clients at once; 0 = unlimited. */
  capacity: number;
  policy: RelayPolicy;
  keepLocalAddresses: boolean;
  /** UDP ports ICE may use (`--ephemeral-ports-range`). */
  portRange?: { min: number; max: number };
  natProbeURL: string;
  /** Re-run the NAT probe this often; 0 = never. */
  natRetestIntervalMs: number;
  pollIntervalMs: number;
  /** Log a summary this often; 0 = never. */
  summaryIntervalMs: number;
  proxyType: string;
  /** After answering, how long the client has to open its data channel. */
  dataChannelTimeoutMs: number;
  /** Close a relay after this long without a byte either way. */
  inactivityTimeoutMs: number;
  /** How long ICE gathering may take before the answer goes out with what it has. */
  gatherTimeoutMs: number;
}

/** Go's defaults (proxy/lib/snowflake.go), except the relay pattern which has no default here. */
export const PROXY_DEFAULTS = {
  brokerURL: "https://snowflake-broker.torproject.net/",
  defaultRelayURL: "wss://snowflake.torproject.net/",
  stunURLs: ["stun:stun.l.google.com:19302", "stun:stun.voip.blackberry.com:3478"],
  natProbeURL: "https://snowflake-broker.torproject.net:8443/probe",
  capacity: 0,
  keepLocalAddresses: false,
  natRetestIntervalMs: 24 * 3600_000,
  pollIntervalMs: 5000,
  summaryIntervalMs: 3600_000,
  proxyType: "standalone",
  dataChannelTimeoutMs: 20_000,
  inactivityTimeoutMs: 30_000,
  // Below the broker's 5 s client timeout (CLIENT_TIMEOUT_MS, as recent Go brokers): libwebrtc
  // never completes gathering for some offers (Debian's Go client's, in tests/client/chain.ts),
  // and an answer sent at 5 s always came too late.
  gatherTimeoutMs: 3000,
} as const;

/** What the host environment provides. */
export interface ProxyEnv {
  webrtc: WebRTC;
  /** Opens the WebSocket to the relay (the URL already carries `client_ip`). */
  dialRelay(url: string, signal: AbortSignal): Promise<Conn>;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Default: the global timers. */
  timers?: Timers;
  /** Default: Date.now. */
  now?: () => number;
  /** Informational lines (the binary scrubs them unless --unsafe-logging). */
  log(message: string): void;
  /** Per-poll detail, shown with --verbose. */
  debug?(message: string): void;
  /**
   * Our addresses that the STUN servers saw with our port unchanged (no NAT). Given, the
   * answer goes out as soon as its candidates are usable (lib/snowflake/gather.ts) rather than
   * when libwebrtc's gathering completes or times out; the web page has no STUN probe.
   */
  reflexive?(stunURLs: string[]): Promise<readonly string[]>;
  /**
   * `dialRelay`'s conns are real WebSockets: each message they read is a fresh buffer, and a
   * write keeps nothing once it resolves. Then every relayed chunk is freed as soon as it is
   * written (lib/net/free_after_write.ts), not at the next garbage collection.
   */
  freeRelayedChunks?: boolean;
}

// A broker's NextPoll below this is ignored: a hostile or buggy broker must not make us spin.
const MIN_POLL_MS = 1000;

/** A running proxy. `run()` until `stop()`. */
export class SnowflakeProxy {
  readonly stats = new ProxyStats();
  readonly #cfg: ProxyConfig;
  readonly #env: ProxyEnv;
  readonly #fetch: typeof fetch;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #stop = new AbortController();
  readonly #peers = new Set<PeerConnection>();
  readonly #sessions = new Set<Promise<void>>();
  #nat: NatType = "unknown";
  #clients = 0;
  #slotFreed: () => void = () => {};

  constructor(config: ProxyConfig, env: ProxyEnv) {
    this.#cfg = config;
    this.#env = env;
    this.#fetch = env.fetch ?? ((input, init) => fetch(input, init));
    this.#timers = env.timers ?? globalTimers;
    this.#now = env.now ?? Date.now;
  }

  /** The NAT type from the last successful probe ("unknown" before). */
  get natType(): NatType {
    return this.#nat;
  }

  /** Clients being served (or being answered) now. */
  get clients(): number {
    return this.#clients;
  }

  get #peerConfig(): PeerConnectionConfig {
    const config: PeerConnectionConfig = { iceServers: [{ urls: this.#cfg.stunURLs }] };
    if (this.#cfg.stunURLs.length === 0) config.iceServers = [];
    if (this.#cfg.portRange) config.portRange = this.#cfg.portRange;
    return config;
  }

  /** Probes the NAT, then polls and serves clients until {@link stop}. */
  async run(): Promise<void> {
    const stopSummary = this.#every(
      this.#cfg.summaryIntervalMs,
      () => this.#env.log(this.stats.takeSummary(this.#cfg.summaryIntervalMs)),
    );
    // Probed now, so the first client's answer does not wait for it.
    this.#env.reflexive?.(this.#cfg.stunURLs).catch(() => {});
    await this.probeNAT();
    const stopRetest = this.#every(this.#cfg.natRetestIntervalMs, () => this.probeNAT());
    try {
      await this.#pollLoop();
    } finally {
      stopSummary();
      stopRetest();
      await Promise.all(this.#sessions);
    }
  }

  /** Runs `task` every `ms` (0 = never), each run after the previous one ended; returns a stop. */
  #every(ms: number, task: () => unknown): () => void {
    let timer: unknown;
    let stopped = ms <= 0;
    const tick = async () => {
      await task();
      if (!stopped && !this.#stop.signal.aborted) timer = this.#timers.setTimeout(tick, ms);
    };
    if (!stopped) timer = this.#timers.setTimeout(tick, ms);
    return () => {
      stopped = true;
      this.#timers.clearTimeout(timer);
    };
  }

  /** Stops polling and closes every client connection; `run()` then resolves. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort(new Error("proxy stopped"));
    for (const pc of this.#peers) closePeer(pc);
    this.#slotFreed();
  }

  /** Runs the NAT probe once; on failure the previous type stays. */
  async probeNAT(): Promise<NatType> {
    const before = this.#nat;
    this.#env.log(`checking our NAT type with the probe server ${this.#cfg.natProbeURL}`);
    try {
      this.#nat = await probeNATType({
        webrtc: this.#env.webrtc,
        timers: this.#timers,
        fetch: this.#fetch,
        peerConfig: this.#peerConfig,
        keepLocalAddresses: this.#cfg.keepLocalAddresses,
        openTimeoutMs: this.#cfg.dataChannelTimeoutMs,
        signal: this.#stop.signal,
      }, this.#cfg.natProbeURL);
      this.#env.log(`NAT type: ${before} -> ${this.#nat}`);
    } catch (e) {
      this.#env.log(`NAT probe failed (${errorText(e)}); NAT type stays ${this.#nat}`);
    }
    return this.#nat;
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#timers.clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = this.#timers.setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  async #takeSlot(): Promise<void> {
    while (this.#cfg.capacity > 0 && this.#clients >= this.#cfg.capacity) {
      if (this.#stop.signal.aborted) return;
      await new Promise<void>((resolve) => (this.#slotFreed = resolve));
    }
    this.#clients++;
  }

  #releaseSlot(): void {
    this.#clients--;
    this.#slotFreed();
  }

  async #pollLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.#takeSlot();
      if (signal.aborted) {
        this.#releaseSlot();
        break;
      }
      const started = this.#now();
      let interval = this.#cfg.pollIntervalMs;
      let handedOff = false;
      try {
        const sid = sessionID();
        const reply = await this.#poll(sid);
        if (reply.nextPoll !== undefined) interval = Math.max(MIN_POLL_MS, reply.nextPoll);
        if (reply.status === STATUS_CLIENT_MATCH) {
          handedOff = true;
          const session = this.#session(sid, reply).finally(() => {
            this.#sessions.delete(session);
            this.#releaseSlot();
          });
          this.#sessions.add(session);
        } else if (reply.status === STATUS_BAD_RELAY_PATTERN) {
          this.#env.log(
            "the broker refused our --allowed-relay-hostname-pattern: it covers none of its relays",
          );
        }
      } catch (e) {
        if (!signal.aborted) {
          this.stats.pollErrors++;
          this.#env.log(`error polling broker: ${errorText(e)}`);
        }
      } finally {
        if (!handedOff) this.#releaseSlot();
      }
      await this.#sleep(interval - (this.#now() - started));
    }
  }

  async #poll(sid: string): Promise<ProxyPollResponse> {
    this.stats.polls++;
    const body = encodeProxyPollRequest({
      sid,
      type: this.#cfg.proxyType,
      nat: this.#nat,
      clients: Math.floor(this.#clients / 8) * 8,
      acceptedRelayPattern: this.#cfg.policy.allowedHostPattern,
    });
    const url = new URL("proxy", this.#cfg.brokerURL).toString();
    const reply = decodeProxyPollResponse(
      await postText(this.#fetch, url, body, this.#stop.signal),
    );
    this.#env.debug?.(`poll: ${reply.status}`);
    return reply;
  }

  async #session(sid: string, reply: ProxyPollResponse): Promise<void> {
    this.stats.offers++;
    const relayURL = reply.relayURL || this.#cfg.defaultRelayURL;
    const refusal = relayRefusal(relayURL, this.#cfg.policy);
    if (refusal) {
      this.stats.refusedRelays++;
      this.#env.log(`refusing a client: ${refusal} (${relayURL})`);
      return;
    }
    let pc: PeerConnection | undefined;
    let relay: Promise<Conn | Error> | undefined;
    try {
      const offer = deserializeSessionDescription(reply.offer);
      pc = this.#env.webrtc.newPeerConnection(this.#peerConfig);
      this.#peers.add(pc);
      if (this.#stop.signal.aborted) return;
      // The conn is made inside the datachannel event, so no message sent right after the
      // channel opens is missed (the client's Turbo Tunnel token comes first).
      const activity = { last: this.#now() };
      const arrival = arrivingConn(pc, {
        timers: this.#timers,
        onRead: (n) => {
          this.stats.addFromClient(n);
          activity.last = this.#now();
        },
        onWrite: (n) => {
          this.stats.addToClient(n);
          activity.last = this.#now();
        },
      });
      await pc.setRemoteDescription(offer);
      const answer = this.#env.reflexive
        ? await gatherUsable(pc, await pc.createAnswer(), {
          stun: this.#cfg.stunURLs.length > 0,
          reflexive: await this.#env.reflexive(this.#cfg.stunURLs),
          timeoutMs: this.#cfg.gatherTimeoutMs,
          timers: this.#timers,
        })
        : await gatherLocalDescription(
          pc,
          await pc.createAnswer(),
          this.#cfg.gatherTimeoutMs,
          this.#timers,
        );
      const sdp = this.#cfg.keepLocalAddresses ? answer.sdp : stripLocalCandidates(answer.sdp);
      const url = new URL("answer", this.#cfg.brokerURL).toString();
      const body = encodeAnswerRequest({
        sid,
        answer: serializeSessionDescription({ type: "answer", sdp }),
      });
      if (!decodeAnswerResponse(await postText(this.#fetch, url, body, this.#stop.signal))) {
        this.stats.clientsGone++;
        this.#env.log("the broker says the client is gone");
        return;
      }
      // Dialed while ICE connects, not once the channel opens (docs/PROXY.md "Latency").
      relay = this.#dialRelay(relayURL, offer.sdp);
      const open = await this.#deadline(arrival.then(waitOpen), this.#cfg.dataChannelTimeoutMs);
      if (!open) {
        if (!this.#stop.signal.aborted) {
          this.stats.openTimeouts++;
          this.#env.log("timed out waiting for the client to open its data channel");
        }
        return;
      }
      const dialed = relay;
      relay = undefined;
      await this.#relay(open, activity, dialed, relayURL);
    } catch (e) {
      if (!this.#stop.signal.aborted) this.#env.log(`client session: ${errorText(e)}`);
    } finally {
      relay?.then((ws) => ws instanceof Error || ws.close());
      closePeer(pc);
      if (pc) this.#peers.delete(pc);
    }
  }

  /** `p`'s value, or undefined when `ms` pass or the proxy stops first. */
  async #deadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: unknown;
    const signal = this.#stop.signal;
    let onAbort = () => {};
    const late = new Promise<undefined>((resolve) => {
      timer = this.#timers.setTimeout(() => resolve(undefined), ms);
      onAbort = () => resolve(undefined);
      signal.addEventListener("abort", onAbort);
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      this.#timers.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** The relay's WebSocket, with the client's address from its offer; the error if it fails. */
  #dialRelay(relayURL: string, offerSDP: string): Promise<Conn | Error> {
    const url = new URL(relayURL);
    const clientIP = remoteIPFromSDP(offerSDP);
    if (clientIP) url.searchParams.set("client_ip", clientIP);
    return this.#env.dialRelay(url.toString(), this.#stop.signal).catch((e) =>
      new Error(errorText(e))
    );
  }

  async #relay(
    dc: DataChannelConn,
    activity: { last: number },
    dialed: Promise<Conn | Error>,
    relayURL: string,
  ): Promise<void> {
    activity.last = this.#now();
    this.stats.connected();
    this.#env.log("client connected");
    let ws: Conn | undefined;
    let idleTimer: unknown;
    let onStop = () => {};
    try {
      const conn = await dialed;
      if (conn instanceof Error) {
        this.stats.relayDialErrors++;
        this.#env.log(`error dialing relay ${relayURL}: ${conn.message}`);
        return;
      }
      ws = conn;
      const inactivity = this.#cfg.inactivityTimeoutMs;
      const idle = new Promise<void>((resolve) => {
        const check = () => {
          const quiet = this.#now() - activity.last;
          if (quiet < inactivity) {
            idleTimer = this.#timers.setTimeout(check, inactivity - quiet);
            return;
          }
          this.stats.inactivityCloses++;
          this.#env.log(`closing a relay after ${goDuration(inactivity)} without traffic`);
          resolve();
        };
        idleTimer = this.#timers.setTimeout(check, inactivity);
      });
      const stopped = new Promise<void>((resolve) => {
        onStop = () => resolve();
        if (this.#stop.signal.aborted) resolve();
        this.#stop.signal.addEventListener("abort", onStop);
      });
      const why = (reason: string) => (e?: unknown) =>
        e instanceof Error ? `${reason}: ${e.message}` : reason;
      // The data channel's messages are fresh buffers, and its writes copy them.
      const free = this.#env.freeRelayedChunks ? freeAfterWrite : <T>(w: T) => w;
      const reason = await Promise.race([
        dc.readable.pipeTo(free(ws.writable)).then(why("client closed"), why("relay write failed")),
        ws.readable.pipeTo(free(dc.writable)).then(why("relay closed"), why("client write failed")),
        dc.closed.then(why("data channel closed")),
        idle.then(why("idle")),
        stopped.then(why("stopping")),
      ]);
      this.#env.debug?.(`relay ended: ${reason}`);
    } finally {
      this.#timers.clearTimeout(idleTimer);
      this.#stop.signal.removeEventListener("abort", onStop);
      dc.close();
      ws?.close();
      this.stats.active--;
      this.#env.log("client disconnected");
    }
  }
}

/** An error's message with its cause (fetch says only "fetch failed"; the cause says why). */
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
}

/** Go's session ids: base64 of 16 random bytes, padding trimmed. */
function sessionID(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

/** The client's data channel, wrapped as a Conn the moment it arrives. */
function arrivingConn(
  pc: PeerConnection,
  options: DataChannelConnOptions,
): Promise<DataChannelConn> {
  return new Promise((resolve) => {
    const onChannel = (e: Event) => {
      pc.removeEventListener("datachannel", onChannel);
      const channel = (e as RTCDataChannelEvent).channel as unknown as DataChannel;
      resolve(dataChannelConn(channel, options));
    };
    pc.addEventListener("datachannel", onChannel);
  });
}

/** Resolves with the conn once its channel is open. */
function waitOpen(conn: DataChannelConn): Promise<DataChannelConn> {
  const channel = conn.channel;
  if (channel.readyState === "open") return Promise.resolve(conn);
  return new Promise((resolve) => {
    const onOpen = () => {
      channel.removeEventListener("open", onOpen);
      resolve(conn);
    };
    channel.addEventListener("open", onOpen);
  });
}
