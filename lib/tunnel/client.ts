/**
 * The tunnel client: the initiator. It sends INIT, answers a COOKIE_CHALLENGE
 * with INIT_WITH_COOKIE, installs the session on RESPONSE (confirming it to the
 * server with a keepalive or the queued packets), rekeys on time and message
 * limits, retries unanswered initiations, keeps NAT state alive and starts a new
 * handshake when data it sent got no answer for keepalive + retry.
 *
 * @module
 */

import type { Addr, PacketConn } from "../net/types.ts";
import type { TunnelCipher, TunnelCipherKind } from "./cipher.ts";
import { TUNNEL_SYSTEM_CLOCK, type TunnelClock } from "./clock.ts";
import {
  freshIndex,
  ignore,
  keyBytes,
  readLoop,
  resolveCipher,
  type TunnelKeyInput,
} from "./common.ts";
import { openCookieChallenge } from "./cookie.ts";
import { consumeResponse, createInitiation, type TunnelInitiation } from "./handshake.ts";
import { isIPv4Packet } from "./ipv4.ts";
import { TunnelKeyPair } from "./keys.ts";
import {
  COOKIE_CHALLENGE_SIZE,
  decodeCookieChallenge,
  KEEPALIVE_SIZE,
  messageType,
  MSG_COOKIE_CHALLENGE,
  MSG_DATA,
  MSG_RESPONSE,
  readU32,
  RESPONSE_SIZE,
} from "./messages.ts";
import { TUNNEL_REPLAY_WINDOW } from "./replay.ts";
import { TunnelSession } from "./session.ts";
import {
  newCounters,
  newDrops,
  type TunDevice,
  type TunnelEvent,
  type TunnelLimits,
  tunnelLimits,
  type TunnelStats,
} from "./types.ts";

export interface TunnelClientOptions {
  privateKey: TunnelKeyInput;
  serverPublicKey: TunnelKeyInput;
  /** The server's UDP address. */
  server: Addr;
  tun: TunDevice;
  bind: PacketConn;
  /** Persistent keepalive in seconds (default 10; 0 disables). Overrides limits.keepaliveMs. */
  keepaliveSeconds?: number;
  replayWindow?: number;
  limits?: Partial<TunnelLimits>;
  clock?: TunnelClock;
  cipher?: TunnelCipher | TunnelCipherKind;
  log?: (line: string) => void;
  onEvent?: (event: TunnelEvent) => void;
  /** Timer period; 0 disables the timer (tests then call {@link TunnelClient.tick}). */
  tickMs?: number;
  /** Packets held while no session is up (oldest dropped first). Default 64. */
  queueLimit?: number;
}

export class TunnelClient {
  #o: TunnelClientOptions;
  #key: TunnelKeyPair;
  #serverPublic: Uint8Array;
  #limits: TunnelLimits;
  #clock: TunnelClock;
  #cipher: TunnelCipher | null;
  #replayWindow: number;
  #counters = newCounters();
  #drops = newDrops();
  #current: TunnelSession | null = null;
  #previous: TunnelSession | null = null;
  #pending: TunnelInitiation | null = null;
  #pendingAt = 0;
  #lastTimestamp = 0;
  #cookie: { value: Uint8Array; at: number } | null = null;
  #queue: Uint8Array[] = [];
  #lastSent = 0;
  #unansweredSince: number | null = null;
  #lastHandshake: number | null = null;
  #bytesIn = 0;
  #bytesOut = 0;
  #ac = new AbortController();
  #startCalled = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #loops: Promise<unknown> = Promise.resolve();
  #log: (line: string) => void;
  #event: (e: TunnelEvent) => void;
  #started = false;

  constructor(o: TunnelClientOptions) {
    this.#o = o;
    this.#key = new TunnelKeyPair(keyBytes(o.privateKey, "client private key"));
    this.#serverPublic = keyBytes(o.serverPublicKey, "server public key");
    const limits = { ...o.limits };
    if (o.keepaliveSeconds !== undefined) limits.keepaliveMs = o.keepaliveSeconds * 1000;
    this.#limits = tunnelLimits(limits);
    this.#clock = o.clock ?? TUNNEL_SYSTEM_CLOCK;
    this.#cipher = o.cipher && typeof o.cipher === "object" ? o.cipher : null;
    this.#replayWindow = o.replayWindow ?? TUNNEL_REPLAY_WINDOW;
    this.#log = o.log ?? ignore;
    this.#event = o.onEvent ?? ignore;
  }

  /** The client's static public key. */
  get publicKey(): Uint8Array {
    return this.#key.publicKey;
  }

  /** True while a session can carry data. */
  get connected(): boolean {
    const s = this.#current;
    return s !== null && this.#clock.now() - s.createdAt < this.#limits.rejectAfterMs;
  }

  /** Loads the cipher, starts the loops and the timer and sends the first initiation. */
  async start(): Promise<void> {
    if (this.#ac.signal.aborted || this.#startCalled) {
      throw new Error("a tunnel core starts once; make a new one after stop()");
    }
    this.#startCalled = true;
    if (!this.#cipher) this.#cipher = await resolveCipher(this.#o.cipher, this.#log);
    this.#started = true;
    this.#loops = Promise.allSettled([this.#udpLoop(), this.#tunLoop()]);
    const tickMs = this.#o.tickMs ?? 250;
    if (tickMs > 0) this.#timer = setInterval(() => this.tick(), tickMs);
    this.#initiate();
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    this.#started = false;
    clearInterval(this.#timer);
    this.#o.bind.close();
    this.#o.tun.close();
    await this.#loops;
  }

  stats(): TunnelStats {
    return {
      counters: { ...this.#counters },
      drops: { ...this.#drops },
      peers: [{
        name: "server",
        publicKey: this.#serverPublic,
        tunnelIp: 0,
        endpoint: this.#o.server.toString(),
        lastHandshake: this.#lastHandshake,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        packetsIn: this.#counters.packetsIn,
        packetsOut: this.#counters.packetsOut,
        connected: this.connected,
      }],
    };
  }

  #udpLoop(): Promise<void> {
    // No abort signal per read (it would cost a promise race per packet): stop() closes the bind.
    return readLoop(
      () => this.#o.bind.readFrom(),
      (p) => this.receive(p.data, p.addr),
      this.#ac.signal,
      (m) => this.#log(`client: UDP ${m}`),
    );
  }

  #tunLoop(): Promise<void> {
    const signal = this.#ac.signal;
    return readLoop(
      () => this.#o.tun.read(signal),
      (p) => this.fromTun(p),
      signal,
      (m) => this.#log(`client: TUN ${m}`),
    );
  }

  #initiate(): void {
    const cipher = this.#cipher;
    if (!cipher) return;
    const now = this.#clock.now();
    let cookie = this.#cookie;
    if (cookie && now - cookie.at >= this.#limits.cookieLifetimeMs) cookie = this.#cookie = null;
    const used = {
      has: (i: number) => i === this.#current?.localIndex || i === this.#previous?.localIndex,
    };
    // The server refuses a timestamp not newer than the last one it accepted.
    const ts = Math.max(now, this.#lastTimestamp + 0.001);
    this.#lastTimestamp = ts;
    this.#counters.dhOperations += 2;
    this.#pending = createInitiation(
      cipher,
      this.#key,
      this.#serverPublic,
      freshIndex(used),
      ts,
      cookie?.value ?? null,
    );
    this.#pendingAt = now;
    this.#send(this.#pending.message);
  }

  /** Handles one UDP datagram (what the read loop calls). Never throws. */
  receive(data: Uint8Array, _from: Addr): void {
    const cipher = this.#cipher;
    if (!cipher) return;
    try {
      switch (messageType(data)) {
        case MSG_DATA:
          this.#data(data);
          return;
        case MSG_COOKIE_CHALLENGE:
          this.#challenge(cipher, data);
          return;
        case MSG_RESPONSE:
          this.#response(cipher, data);
          return;
        default:
          this.#drops.malformed++;
      }
    } catch (e) {
      this.#drops.malformed++;
      this.#log(`client: dropped a packet that raised ${(e as Error).message}`);
    }
  }

  #challenge(cipher: TunnelCipher, data: Uint8Array): void {
    if (data.length !== COOKIE_CHALLENGE_SIZE) {
      this.#drops.malformed++;
      return;
    }
    const p = this.#pending;
    if (!p || readU32(data, 4) !== p.senderIndex) {
      this.#drops.auth++;
      return;
    }
    const cookie = openCookieChallenge(
      cipher,
      this.#serverPublic,
      p.mac1,
      decodeCookieChallenge(data),
    );
    if (!cookie) {
      this.#drops.auth++;
      return;
    }
    this.#counters.cookieChallengesReceived++;
    this.#cookie = { value: cookie, at: this.#clock.now() };
    this.#initiate();
  }

  #response(cipher: TunnelCipher, data: Uint8Array): void {
    if (data.length !== RESPONSE_SIZE) {
      this.#drops.malformed++;
      return;
    }
    const p = this.#pending;
    if (!p || readU32(data, 8) !== p.senderIndex) {
      this.#drops.auth++;
      return;
    }
    this.#counters.dhOperations += 2;
    const keys = consumeResponse(cipher, this.#key, p, data);
    if (!keys) {
      this.#drops.auth++;
      return;
    }
    const now = this.#clock.now();
    this.#pending = null;
    this.#previous = this.#current;
    this.#current = new TunnelSession(
      cipher,
      keys,
      now,
      this.#replayWindow,
      this.#limits.rejectAfterMessages,
    );
    this.#lastHandshake = now;
    this.#unansweredSince = null;
    this.#counters.handshakes++;
    this.#log(`client: handshake with the server complete (${this.#o.server})`);
    this.#event({ type: "handshake", peer: "server", endpoint: this.#o.server.toString() });
    const queued = this.#queue;
    this.#queue = [];
    if (queued.length === 0) this.#sendData(new Uint8Array(0), now);
    for (const q of queued) this.#sendData(q, now);
  }

  #data(data: Uint8Array): void {
    if (data.length < KEEPALIVE_SIZE) {
      this.#drops.malformed++;
      return;
    }
    const idx = readU32(data, 4);
    const s = this.#current?.localIndex === idx
      ? this.#current
      : this.#previous?.localIndex === idx
      ? this.#previous
      : null;
    const now = this.#clock.now();
    if (!s || now - s.createdAt >= this.#limits.rejectAfterMs) {
      this.#drops.auth++;
      return;
    }
    const plain = s.open(data);
    if (!plain) {
      this.#drops.auth++;
      return;
    }
    if (!s.replay.check(TunnelSession.counterOf(data))) {
      this.#drops.replay++;
      return;
    }
    this.#unansweredSince = null;
    this.#bytesIn += data.length;
    this.#counters.bytesIn += data.length;
    this.#counters.packetsIn++;
    if (plain.length === 0) {
      this.#counters.keepalivesIn++;
      return;
    }
    this.#o.tun.write(plain).catch(ignore);
  }

  /** Sends one packet read from the client's TUN device (what the TUN loop calls). */
  fromTun(packet: Uint8Array): void {
    // The server routes IPv4 only; IPv6 chatter of the OS (router solicitations) stays here.
    if (!isIPv4Packet(packet)) {
      this.#drops.noroute++;
      return;
    }
    const now = this.#clock.now();
    const s = this.#current;
    if (!s || now - s.createdAt >= this.#limits.rejectAfterMs) {
      if (this.#queue.length >= (this.#o.queueLimit ?? 64)) {
        this.#queue.shift();
        this.#drops.noroute++;
      }
      this.#queue.push(packet);
      if (!this.#pending && this.#started) this.#initiate();
      return;
    }
    this.#sendData(packet, now);
    if (this.#unansweredSince === null) this.#unansweredSince = now;
    this.#maybeRekey(s, now);
  }

  #maybeRekey(s: TunnelSession, now: number): void {
    if (this.#pending) return;
    if (
      now - s.createdAt >= this.#limits.rekeyAfterMs ||
      s.sendCounter >= this.#limits.rekeyAfterMessages
    ) this.#initiate();
  }

  #sendData(plain: Uint8Array, now: number): void {
    const s = this.#current;
    const msg = s?.seal(plain);
    if (!msg) {
      this.#drops.noroute++;
      return;
    }
    this.#lastSent = now;
    this.#bytesOut += msg.length;
    this.#counters.bytesOut += msg.length;
    this.#counters.packetsOut++;
    if (plain.length === 0) this.#counters.keepalivesOut++;
    this.#send(msg);
  }

  #send(data: Uint8Array): void {
    this.#o.bind.writeTo(data, this.#o.server).catch(ignore);
  }

  /** Runs the timers: retries, rekeying, dead-session detection, keepalives, expiry. */
  tick(): void {
    if (!this.#started) return;
    const now = this.#clock.now();
    const l = this.#limits;
    const expired = (x: TunnelSession | null) => x !== null && now - x.createdAt >= l.rejectAfterMs;
    if (expired(this.#previous)) this.#previous = null;
    if (expired(this.#current)) {
      this.#current = null;
      this.#log("client: session expired");
      this.#event({ type: "expired", peer: "server" });
    }
    if (this.#pending) {
      if (now - this.#pendingAt >= l.handshakeRetryMs) this.#initiate();
      return;
    }
    const s = this.#current;
    if (!s) {
      this.#initiate();
      return;
    }
    if (
      this.#unansweredSince !== null &&
      now - this.#unansweredSince >= l.keepaliveMs + l.handshakeRetryMs
    ) {
      this.#unansweredSince = null;
      this.#log("client: no answer to sent data; new handshake");
      this.#initiate();
      return;
    }
    this.#maybeRekey(s, now);
    if (l.keepaliveMs > 0 && now - this.#lastSent >= l.keepaliveMs) {
      this.#sendData(new Uint8Array(0), now);
    }
  }
}
