/**
 * The tunnel server: one session per authorised client, routing by inner IPv4
 * or IPv6 destination between clients and the server's TUN device.
 *
 * The read loop handles data packets at once and queues handshake-class
 * packets in a small bounded queue (core.ts, handshake_queue.ts). Handshake
 * path, cheapest check first; nothing before step 4 does any DH:
 * 1. size, type and reserved bytes; 2. mac1 (keyed by the server's public key);
 * 3. under load (queue an eighth full, or the unproven-handshake budget spent, in the last
 *    second) an initiation without a valid mac2 gets a COOKIE_CHALLENGE, within a global
 *    cookie-reply budget, and stops; a quiet server skips this (one round trip, WireGuard's
 *    rule); 4. per-source-IP token bucket; 5. es DH + client static key; ACL; 6. timestamp
 *    newer than the last one of this client; 7. RESPONSE (the new session waits for the
 *    client's first data packet before the server sends on it).
 *
 * @module
 */

import type { Addr } from "../net/types.ts";
import type { TunnelCipher } from "./cipher.ts";
import { b64, freshIndex, hostOf, ignore, keyBytes, type TunnelKeyInput } from "./common.ts";
import { TunnelCore, type TunnelCoreOptions } from "./core.ts";
import { COOKIE_ROTATE_MS, TunnelCookieChecker } from "./cookie.ts";
import { TunnelDhMeter } from "./dh_meter.ts";
import { compareTimestamps, consumeInitiation, createResponse } from "./handshake.ts";
import { ipv4Destination, ipv4Source, isIPv4Packet, toTunnelIPv4 } from "./ipv4.ts";
import { ipv6DestinationKey, ipv6SourceKey, isIPv6Packet, toTunnelIPv6Key } from "./ipv6.ts";
import { generateTunnelPrivateKey, TunnelKeyPair } from "./keys.ts";
import {
  INIT_MAC1_OFFSET,
  INIT_MAC2_OFFSET,
  INIT_SIZE,
  INIT_WITH_COOKIE_SIZE,
  KEEPALIVE_SIZE,
  messageType,
  MSG_DATA,
  MSG_INIT,
  MSG_INIT_WITH_COOKIE,
  readU32,
} from "./messages.ts";
import { TunnelRateLimiter } from "./ratelimit.ts";
import type { TunnelSession } from "./session.ts";
import type { TunnelStats } from "./types.ts";

/** A client the server accepts: its static public key and its tunnel addresses. */
export interface TunnelServerPeer {
  name?: string;
  publicKey: TunnelKeyInput;
  tunnelIp: number | string;
  /** Its IPv6 tunnel address, if it has one ("fd09::2"). */
  tunnelIp6?: string;
}

export interface TunnelServerOptions extends TunnelCoreOptions {
  privateKey: TunnelKeyInput;
  /** The server's own tunnel address: packets to it go to the server's TUN. */
  tunnelIp: number | string;
  peers: TunnelServerPeer[];
  /** Handshakes per source IP (after the cookie check). Default 20/s, burst 40, 4096 sources. */
  rateLimit?: { perSecond: number; burst: number; maxSources?: number };
  cookieRotateMs?: number;
  /** When an initiation must prove its address with a cookie first (default "under-load"). */
  cookies?: "under-load" | "always";
  /**
   * Initiations without a cookie that get DH work per second before the server
   * counts as under load (default 100).
   */
  unprovenPerSecond?: number;
  /** Cookie challenges per second, all sources together (default 2000). */
  cookieRepliesPerSecond?: number;
}

interface PeerState {
  name: string;
  publicKey: Uint8Array;
  tunnelIp: number;
  /** Routing key of its IPv6 tunnel address (ipv6.ts), or null. */
  tunnelIp6: string | null;
  /** Precomputed DH(server static, client static), null for an unusable key. */
  ss: Uint8Array | null;
  current: TunnelSession | null;
  previous: TunnelSession | null;
  next: TunnelSession | null;
  endpoint: Addr | null;
  endpointKey: string;
  lastTimestamp: Uint8Array;
  lastHandshake: number | null;
  keepaliveDue: number | null;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

export class TunnelServer {
  #o: TunnelServerOptions;
  #key: TunnelKeyPair;
  /** The same static key, with every handshake DH counted by {@link #meter}. */
  #handshakeKey: TunnelKeyPair;
  #tunnelIp: number;
  #core: TunnelCore;
  #cookies: TunnelCookieChecker;
  #limiter: TunnelRateLimiter;
  /** Global budgets (one bucket each): unproven handshakes, cookie replies. */
  #unproven: TunnelRateLimiter;
  #cookieReplies: TunnelRateLimiter;
  #meter: TunnelDhMeter;
  #byKey = new Map<string, PeerState>();
  #byIp = new Map<number, PeerState>();
  #byIp6 = new Map<string, PeerState>();
  #byIndex = new Map<number, { peer: PeerState; session: TunnelSession }>();
  /** Failed handshakes logged: once per source per minute, at most 20 lines a minute. */
  #failureLogged = new Map<string, number>();
  #failureLines: TunnelRateLimiter;
  /** The IP addresses of the peers' last endpoints (the handshake queue's priority lane). */
  #peerHosts = new Set<string>();

  constructor(o: TunnelServerOptions) {
    this.#o = o;
    this.#core = new TunnelCore("server", o, {
      dispatch: (cipher, data, from, priority) => this.#dispatch(cipher, data, from, priority),
      likelyPeer: (data, from) =>
        data[0] === MSG_INIT_WITH_COOKIE || this.#peerHosts.has(hostOf(from)),
      handshakeRoom: () => this.#handshakeRoom(),
      fromTun: (p) => this.fromTun(p),
      tick: () => this.tick(),
    });
    this.#meter = new TunnelDhMeter(this.#core.counters);
    this.#key = new TunnelKeyPair(keyBytes(o.privateKey, "server private key"));
    this.#handshakeKey = this.#meter.pair(this.#key.privateKey);
    this.#tunnelIp = toTunnelIPv4(o.tunnelIp, "server tunnel IP");
    const clock = this.#core.clock;
    this.#cookies = new TunnelCookieChecker(
      this.#key.publicKey,
      clock,
      o.cookieRotateMs ?? COOKIE_ROTATE_MS,
    );
    const rl = o.rateLimit ?? { perSecond: 20, burst: 40 };
    this.#limiter = new TunnelRateLimiter(rl.perSecond, rl.burst, clock, rl.maxSources);
    const unproven = o.unprovenPerSecond ?? 100;
    this.#unproven = new TunnelRateLimiter(unproven, unproven, clock, 1);
    this.#failureLines = new TunnelRateLimiter(20 / 60, 20, clock, 1);
    const replies = o.cookieRepliesPerSecond ?? 2000;
    this.#cookieReplies = new TunnelRateLimiter(replies, replies, clock, 1);
    for (const [i, p] of o.peers.entries()) {
      const publicKey = keyBytes(p.publicKey, `peers[${i}].publicKey`);
      const tunnelIp = toTunnelIPv4(p.tunnelIp, `peers[${i}].tunnelIp`);
      const k = b64(publicKey);
      if (this.#byKey.has(k)) throw new RangeError(`peers[${i}]: public key ${k} is listed twice`);
      const tunnelIp6 = p.tunnelIp6 ? toTunnelIPv6Key(p.tunnelIp6, `peers[${i}].tunnelIp6`) : null;
      if (tunnelIp6 && this.#byIp6.has(tunnelIp6)) {
        throw new RangeError(`peers[${i}]: tunnel IP ${p.tunnelIp6} is already taken`);
      }
      if (this.#byIp.has(tunnelIp) || tunnelIp === this.#tunnelIp) {
        throw new RangeError(`peers[${i}]: tunnel IP ${p.tunnelIp} is already taken`);
      }
      const st: PeerState = {
        name: p.name ?? k,
        publicKey,
        tunnelIp,
        tunnelIp6,
        ss: this.#key.dh(publicKey),
        current: null,
        previous: null,
        next: null,
        endpoint: null,
        endpointKey: "",
        lastTimestamp: new Uint8Array(12),
        lastHandshake: null,
        keepaliveDue: null,
        bytesIn: 0,
        bytesOut: 0,
        packetsIn: 0,
        packetsOut: 0,
      };
      this.#byKey.set(k, st);
      this.#byIp.set(tunnelIp, st);
      if (tunnelIp6) this.#byIp6.set(tunnelIp6, st);
    }
  }

  /** The server's static public key. */
  get publicKey(): Uint8Array {
    return this.#key.publicKey;
  }

  /** Loads the cipher (unless given) and starts the UDP and TUN read loops and the timer. */
  start(): Promise<void> {
    return this.#core.start();
  }

  /** Stops the loops and the timer and closes the bind and the TUN device. */
  stop(): Promise<void> {
    return this.#core.stop();
  }

  stats(): TunnelStats {
    const now = this.#core.clock.now();
    return {
      counters: { ...this.#core.counters },
      drops: { ...this.#core.drops },
      peers: [...this.#byKey.values()].map((p) => ({
        name: p.name,
        publicKey: p.publicKey,
        tunnelIp: p.tunnelIp,
        endpoint: p.endpoint?.toString() ?? null,
        lastHandshake: p.lastHandshake,
        bytesIn: p.bytesIn,
        bytesOut: p.bytesOut,
        packetsIn: p.packetsIn,
        packetsOut: p.packetsOut,
        connected: this.#core.alive(p.current, now),
      })),
    };
  }

  /** Handles one UDP datagram (what the read loop calls). Never throws. */
  receive(data: Uint8Array, from: Addr): void {
    this.#core.receive(data, from);
  }

  #dispatch(cipher: TunnelCipher, data: Uint8Array, from: Addr, priority: boolean): void {
    switch (messageType(data)) {
      case MSG_DATA:
        this.#data(data, from);
        return;
      case MSG_INIT:
      case MSG_INIT_WITH_COOKIE:
        this.#initiation(cipher, data, from, priority);
        return;
      default:
        this.#core.drops.malformed++;
    }
  }

  /**
   * `priority` (a cookie-carrying initiation, or one from a known peer's
   * address) skips the global cookie-reply budget a flood spends, not the
   * per-source limit.
   */
  #initiation(cipher: TunnelCipher, data: Uint8Array, from: Addr, priority = false): void {
    const withCookie = data[0] === MSG_INIT_WITH_COOKIE;
    if (data.length !== (withCookie ? INIT_WITH_COOKIE_SIZE : INIT_SIZE)) {
      this.#core.drops.malformed++;
      return;
    }
    if (!this.#cookies.checkMac1(data, INIT_MAC1_OFFSET)) {
      this.#core.drops.auth++;
      this.#failed(from, "bad mac1: the client's server_public_key is not this server's key");
      return;
    }
    const source = from.toString();
    const verified = withCookie && this.#cookies.checkMac2(data, INIT_MAC2_OFFSET, source);
    if (!verified && this.#mustProve()) {
      if (priority && !this.#limiter.allow(hostOf(from))) {
        this.#core.drops.ratelimit++;
        return;
      }
      if (!priority && !this.#cookieReplies.allow("")) {
        this.#core.drops.cookieBudget++;
        return;
      }
      this.#core.drops.cookie++;
      this.#core.counters.cookieReplies++;
      const mac1 = data.subarray(INIT_MAC1_OFFSET, INIT_MAC1_OFFSET + 16);
      this.#send(this.#cookies.challenge(cipher, readU32(data, 4), mac1, source), from);
      return;
    }
    if (!this.#limiter.allow(hostOf(from))) {
      this.#core.drops.ratelimit++;
      return;
    }
    if (verified) this.#meter.verified(() => this.#handshake(cipher, data, from, source));
    else this.#handshake(cipher, data, from, source);
  }

  /** Under load, initiations without a cookie get no more than the cookie replies left. */
  #handshakeRoom(): number {
    if (this.#o.cookies !== "always" && !this.#core.underLoad(this.#core.clock.now())) {
      return Infinity;
    }
    return Math.floor(this.#cookieReplies.tokens(""));
  }

  /**
   * True when an initiation without a valid cookie must get a challenge rather
   * than DH work: always if so configured, and under load, which a spent
   * unproven-handshake budget also starts.
   */
  #mustProve(): boolean {
    if (this.#o.cookies === "always") return true;
    const now = this.#core.clock.now();
    if (this.#core.underLoad(now)) return true;
    if (this.#unproven.allow("")) return false;
    this.#core.markUnderLoad(now);
    return true;
  }

  /** DH work for an initiation past the cookie gate (every DH here is metered). */
  #handshake(cipher: TunnelCipher, data: Uint8Array, from: Addr, source: string): void {
    let peer: PeerState | undefined;
    const init = consumeInitiation(cipher, this.#handshakeKey, data, (pub) => {
      peer = this.#byKey.get(b64(pub));
      return peer?.ss ?? null;
    });
    if (init === "auth") {
      this.#core.drops.auth++;
      this.#failed(from, "the initiation does not decrypt (wrong server key, or forged)");
      return;
    }
    if (init === "unknown-peer" || !peer) {
      this.#core.drops.acl++;
      this.#failed(from, "unknown client key: add the client's public key to peers");
      return;
    }
    if (compareTimestamps(init.timestamp, peer.lastTimestamp) <= 0) {
      this.#core.drops.replay++;
      this.#failed(from, `replayed initiation for ${peer.name} (timestamp not newer)`);
      return;
    }
    const index = freshIndex(this.#byIndex);
    const resp = createResponse(
      cipher,
      init,
      index,
      this.#meter.pair(generateTunnelPrivateKey()),
    );
    if (!resp) {
      this.#core.drops.auth++;
      return;
    }
    const now = this.#core.clock.now();
    peer.lastTimestamp = init.timestamp;
    const session = this.#core.session(cipher, resp.keys, now);
    if (peer.next) this.#byIndex.delete(peer.next.localIndex);
    peer.next = session;
    this.#byIndex.set(index, { peer, session });
    peer.lastHandshake = now;
    this.#setEndpoint(peer, from, false);
    this.#core.counters.handshakes++;
    this.#send(resp.message, from);
    this.#core.log(`server: handshake with ${peer.name} from ${source}`);
    this.#core.event({ type: "handshake", peer: peer.name, endpoint: source });
  }

  /** Logs a failed handshake, once per source address per minute, within a global budget. */
  #failed(from: Addr, reason: string): void {
    const host = hostOf(from);
    const now = this.#core.clock.now();
    const last = this.#failureLogged.get(host);
    if (last !== undefined && now - last < 60_000) return;
    if (!this.#failureLines.allow("")) return;
    if (this.#failureLogged.size >= 1024) {
      const oldest = this.#failureLogged.keys().next().value;
      if (oldest !== undefined) this.#failureLogged.delete(oldest);
    }
    this.#failureLogged.delete(host);
    this.#failureLogged.set(host, now);
    this.#core.log(`server: handshake from ${from} failed: ${reason}`);
  }

  #setEndpoint(peer: PeerState, from: Addr, roam: boolean): void {
    const k = from.toString();
    if (k === peer.endpointKey) return;
    const old = peer.endpointKey;
    peer.endpoint = from;
    peer.endpointKey = k;
    this.#peerHosts = new Set(
      [...this.#byKey.values()].flatMap((p) => (p.endpoint ? [hostOf(p.endpoint)] : [])),
    );
    if (roam && old) {
      this.#core.counters.roams++;
      this.#core.log(`server: ${peer.name} roamed from ${old} to ${k}`);
      this.#core.event({ type: "roam", peer: peer.name, from: old, to: k });
    }
  }

  #data(data: Uint8Array, from: Addr): void {
    if (data.length < KEEPALIVE_SIZE) {
      this.#core.drops.malformed++;
      return;
    }
    const entry = this.#byIndex.get(readU32(data, 4));
    const now = this.#core.clock.now();
    const plain = this.#core.open(entry?.session, data, now);
    if (!entry || !plain) return;
    const { peer, session } = entry;
    if (session === peer.next) {
      if (peer.previous) this.#byIndex.delete(peer.previous.localIndex);
      peer.previous = peer.current;
      peer.current = session;
      peer.next = null;
    }
    // Batched reads hand out one address object per source: most packets skip the string compare.
    if (from !== peer.endpoint) this.#setEndpoint(peer, from, true);
    peer.bytesIn += data.length;
    peer.packetsIn++;
    if (this.#core.received(data, plain)) return;
    if (peer.keepaliveDue === null) peer.keepaliveDue = now + this.#core.limits.keepaliveMs;
    let to: PeerState | undefined;
    if (isIPv4Packet(plain)) {
      if (ipv4Source(plain) !== peer.tunnelIp) {
        this.#core.drops.acl++;
        return;
      }
      to = this.#byIp.get(ipv4Destination(plain));
    } else if (isIPv6Packet(plain)) {
      if (peer.tunnelIp6 === null || ipv6SourceKey(plain) !== peer.tunnelIp6) {
        this.#core.drops.acl++;
        return;
      }
      to = this.#byIp6.get(ipv6DestinationKey(plain));
    } else {
      this.#core.drops.malformed++;
      return;
    }
    if (to) this.#sendData(to, plain, now);
    else this.#o.tun.write(plain).catch(ignore);
  }

  /** Routes one packet read from the server's TUN device (what the TUN loop calls). */
  fromTun(packet: Uint8Array): void {
    const peer = isIPv4Packet(packet)
      ? this.#byIp.get(ipv4Destination(packet))
      : isIPv6Packet(packet)
      ? this.#byIp6.get(ipv6DestinationKey(packet))
      : undefined;
    if (!peer) {
      this.#core.drops.noroute++;
      return;
    }
    this.#sendData(peer, packet, this.#core.clock.now());
  }

  #sendData(peer: PeerState, plain: Uint8Array, now: number): void {
    const s = peer.current;
    if (!peer.endpoint || !this.#core.alive(s, now)) {
      this.#core.drops.noroute++;
      return;
    }
    const msg = this.#core.seal(s, plain);
    if (!msg) return;
    peer.keepaliveDue = null;
    peer.bytesOut += msg.length;
    peer.packetsOut++;
    this.#send(msg, peer.endpoint);
  }

  #send(data: Uint8Array, to: Addr): void {
    this.#core.send(data, to);
  }

  /** Runs the timers: passive keepalives and session expiry. */
  tick(): void {
    const now = this.#core.clock.now();
    for (const peer of this.#byKey.values()) {
      for (const slot of ["previous", "current", "next"] as const) {
        const s = peer[slot];
        if (s && this.#core.expired(s, now)) {
          this.#byIndex.delete(s.localIndex);
          peer[slot] = null;
          if (slot === "current") {
            this.#core.log(`server: session with ${peer.name} expired`);
            this.#core.event({ type: "expired", peer: peer.name });
          }
        }
      }
      if (peer.keepaliveDue !== null && now >= peer.keepaliveDue) {
        peer.keepaliveDue = null;
        this.#sendData(peer, new Uint8Array(0), now);
      }
    }
  }
}
