/**
 * The tunnel client: the initiator. It sends INIT, answers a COOKIE_CHALLENGE
 * with INIT_WITH_COOKIE, installs the session on RESPONSE (confirming it to the
 * server with a keepalive or the queued packets), rekeys on time and message
 * limits, retries unanswered initiations, keeps NAT state alive and starts a new
 * handshake when data it sent got no answer for keepalive + retry.
 *
 * @module
 */

import type { Addr } from "../net/types.ts";
import type { TunnelCipher } from "./cipher.ts";
import { freshIndex, ignore, keyBytes, type TunnelKeyInput } from "./common.ts";
import { TunnelCore, type TunnelCoreOptions } from "./core.ts";
import { openCookieChallenge } from "./cookie.ts";
import { consumeResponse, createInitiation, type TunnelInitiation } from "./handshake.ts";
import { isIPv4Packet } from "./ipv4.ts";
import { isIPv6Packet, isRoutableIPv6 } from "./ipv6.ts";
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
import type { TunnelSession } from "./session.ts";
import type { TunnelStats } from "./types.ts";

export interface TunnelClientOptions extends TunnelCoreOptions {
  privateKey: TunnelKeyInput;
  serverPublicKey: TunnelKeyInput;
  /** The server's UDP address. */
  server: Addr;
  /** Persistent keepalive in seconds (default 10; 0 disables). Overrides limits.keepaliveMs. */
  keepaliveSeconds?: number;
  /** Packets held while no session is up (oldest dropped first). Default 64. */
  queueLimit?: number;
}

export class TunnelClient {
  #o: TunnelClientOptions;
  #key: TunnelKeyPair;
  #serverPublic: Uint8Array;
  #core: TunnelCore;
  #current: TunnelSession | null = null;
  #previous: TunnelSession | null = null;
  #pending: TunnelInitiation | null = null;
  #pendingAt = 0;
  #lastTimestamp = 0;
  #cookie: { value: Uint8Array; at: number } | null = null;
  /** Initiations sent since the last completed handshake. */
  #unanswered = 0;
  #queue: Uint8Array[] = [];
  #lastSent = 0;
  #unansweredSince: number | null = null;
  #lastHandshake: number | null = null;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(o: TunnelClientOptions) {
    this.#o = o;
    this.#key = new TunnelKeyPair(keyBytes(o.privateKey, "client private key"));
    this.#serverPublic = keyBytes(o.serverPublicKey, "server public key");
    const limits = { ...o.limits };
    if (o.keepaliveSeconds !== undefined) limits.keepaliveMs = o.keepaliveSeconds * 1000;
    this.#core = new TunnelCore("client", { ...o, limits }, {
      dispatch: (cipher, data) => this.#dispatch(cipher, data),
      fromTun: (p) => this.fromTun(p),
      tick: () => this.tick(),
    });
  }

  /** The client's static public key. */
  get publicKey(): Uint8Array {
    return this.#key.publicKey;
  }

  /** True while a session can carry data. */
  get connected(): boolean {
    return this.#core.alive(this.#current, this.#core.clock.now());
  }

  /** Loads the cipher, starts the loops and the timer and sends the first initiation. */
  async start(): Promise<void> {
    await this.#core.start();
    this.#initiate();
  }

  stop(): Promise<void> {
    return this.#core.stop();
  }

  stats(): TunnelStats {
    return {
      counters: { ...this.#core.counters },
      drops: { ...this.#core.drops },
      peers: [{
        name: "server",
        publicKey: this.#serverPublic,
        tunnelIp: 0,
        endpoint: this.#o.server.toString(),
        lastHandshake: this.#lastHandshake,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        packetsIn: this.#core.counters.packetsIn,
        packetsOut: this.#core.counters.packetsOut,
        connected: this.connected,
      }],
    };
  }

  #initiate(): void {
    const cipher = this.#core.cipher;
    if (!cipher) return;
    const tries = ++this.#unanswered;
    // After 3 tries, then about once a minute (WireGuard's 5 s retry): the usual causes.
    if (tries === 3 || (tries > 3 && tries % 12 === 3)) {
      this.#core.log(
        `client: no reply from the server after ${tries - 1} attempts: check server_public_key ` +
          `and that the server lists this client's key (and that ${this.#o.server} is reachable)`,
      );
    }
    const now = this.#core.clock.now();
    let cookie = this.#cookie;
    if (cookie && now - cookie.at >= this.#core.limits.cookieLifetimeMs) {
      cookie = this.#cookie = null;
    }
    const used = {
      has: (i: number) => i === this.#current?.localIndex || i === this.#previous?.localIndex,
    };
    // The server refuses a timestamp not newer than the last one it accepted.
    const ts = Math.max(now, this.#lastTimestamp + 0.001);
    this.#lastTimestamp = ts;
    this.#core.counters.dhOperations += 2;
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
  receive(data: Uint8Array, from: Addr): void {
    this.#core.receive(data, from);
  }

  #dispatch(cipher: TunnelCipher, data: Uint8Array): void {
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
        this.#core.drops.malformed++;
    }
  }

  #challenge(cipher: TunnelCipher, data: Uint8Array): void {
    if (data.length !== COOKIE_CHALLENGE_SIZE) {
      this.#core.drops.malformed++;
      return;
    }
    const p = this.#pending;
    if (!p || readU32(data, 4) !== p.senderIndex) {
      this.#core.drops.auth++;
      return;
    }
    const cookie = openCookieChallenge(
      cipher,
      this.#serverPublic,
      p.mac1,
      decodeCookieChallenge(data),
    );
    if (!cookie) {
      this.#core.drops.auth++;
      return;
    }
    this.#core.counters.cookieChallengesReceived++;
    this.#cookie = { value: cookie, at: this.#core.clock.now() };
    this.#initiate();
  }

  #response(cipher: TunnelCipher, data: Uint8Array): void {
    if (data.length !== RESPONSE_SIZE) {
      this.#core.drops.malformed++;
      return;
    }
    const p = this.#pending;
    if (!p || readU32(data, 8) !== p.senderIndex) {
      this.#core.drops.auth++;
      return;
    }
    this.#core.counters.dhOperations += 2;
    const keys = consumeResponse(cipher, this.#key, p, data);
    if (!keys) {
      this.#core.drops.auth++;
      return;
    }
    const now = this.#core.clock.now();
    this.#pending = null;
    this.#unanswered = 0;
    this.#previous = this.#current;
    this.#current = this.#core.session(cipher, keys, now);
    this.#lastHandshake = now;
    this.#unansweredSince = null;
    this.#core.counters.handshakes++;
    this.#core.log(`client: handshake with the server complete (${this.#o.server})`);
    this.#core.event({ type: "handshake", peer: "server", endpoint: this.#o.server.toString() });
    const queued = this.#queue;
    this.#queue = [];
    if (queued.length === 0) this.#sendData(new Uint8Array(0), now);
    for (const q of queued) this.#sendData(q, now);
  }

  #data(data: Uint8Array): void {
    if (data.length < KEEPALIVE_SIZE) {
      this.#core.drops.malformed++;
      return;
    }
    const idx = readU32(data, 4);
    const s = this.#current?.localIndex === idx
      ? this.#current
      : this.#previous?.localIndex === idx
      ? this.#previous
      : null;
    const plain = this.#core.open(s, data, this.#core.clock.now());
    if (!plain) return;
    this.#unansweredSince = null;
    this.#bytesIn += data.length;
    if (this.#core.received(data, plain)) return;
    this.#o.tun.write(plain).catch(ignore);
  }

  /** Sends one packet read from the client's TUN device (what the TUN loop calls). */
  fromTun(packet: Uint8Array): void {
    // IPv6 goes through when routable: the OS's link-local and multicast chatter stays here.
    if (!isIPv4Packet(packet) && !(isIPv6Packet(packet) && isRoutableIPv6(packet))) {
      this.#core.drops.noroute++;
      return;
    }
    const now = this.#core.clock.now();
    const s = this.#current;
    if (!this.#core.alive(s, now)) {
      if (this.#queue.length >= (this.#o.queueLimit ?? 64)) {
        this.#queue.shift();
        this.#core.drops.noroute++;
      }
      // Its own copy: a queued packet would keep a whole slab alive (lib/net/slab.ts).
      this.#queue.push(packet.slice());
      if (!this.#pending && this.#core.running) this.#initiate();
      return;
    }
    this.#sendData(packet, now);
    if (this.#unansweredSince === null) this.#unansweredSince = now;
    this.#maybeRekey(s, now);
  }

  #maybeRekey(s: TunnelSession, now: number): void {
    if (this.#pending) return;
    if (
      now - s.createdAt >= this.#core.limits.rekeyAfterMs ||
      s.sendCounter >= this.#core.limits.rekeyAfterMessages
    ) this.#initiate();
  }

  #sendData(plain: Uint8Array, now: number): void {
    const msg = this.#core.seal(this.#current, plain);
    if (!msg) return;
    this.#lastSent = now;
    this.#bytesOut += msg.length;
    this.#send(msg);
  }

  #send(data: Uint8Array): void {
    this.#core.send(data, this.#o.server);
  }

  /** Runs the timers: retries, rekeying, dead-session detection, keepalives, expiry. */
  tick(): void {
    if (!this.#core.running) return;
    const now = this.#core.clock.now();
    const l = this.#core.limits;
    if (this.#core.expired(this.#previous, now)) this.#previous = null;
    if (this.#core.expired(this.#current, now)) {
      this.#current = null;
      this.#core.log("client: session expired");
      this.#core.event({ type: "expired", peer: "server" });
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
      this.#core.log("client: no answer to sent data; new handshake");
      this.#initiate();
      return;
    }
    this.#maybeRekey(s, now);
    if (l.keepaliveMs > 0 && now - this.#lastSent >= l.keepaliveMs) {
      this.#sendData(new Uint8Array(0), now);
    }
  }
}
