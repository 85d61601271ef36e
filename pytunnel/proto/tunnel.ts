/**
 * pytunnel's fallback device core: a server and a client that move IP packets
 * between a TUN device and a PacketConn. Used until lib/tunnel's core lands.
 *
 * Server order of checks for handshakes (cheapest first, no DH before both):
 * per-source rate limit → cookie (INIT gets a COOKIE reply, nothing else) →
 * es DH + static key → ACL → ss DH + timestamp → response.
 *
 * @module
 */

import type { Addr, PacketConn } from "../../lib/net/types.ts";
import { ClosedError } from "../../lib/net/errors.ts";
import { StaticKey } from "./crypto.ts";
import {
  initiate,
  type Initiation,
  readInitStatic,
  readInitTimestamp,
  readResponse,
  respond,
} from "./handshake.ts";
import { CookieJar, RateLimiter } from "./limits.ts";
import { ipv4Addrs, Session } from "./session.ts";
import {
  buildCookie,
  buildInit,
  messageType,
  MSG_COOKIE,
  MSG_DATA,
  MSG_INIT,
  MSG_INIT_WITH_COOKIE,
  MSG_RESPONSE,
  u32,
} from "./wire.ts";

/** What the core needs from a TUN device. */
export interface TunDevice {
  readonly name: string;
  readonly mtu: number;
  read(signal?: AbortSignal): Promise<Uint8Array>;
  write(packet: Uint8Array): Promise<void>;
  close(): void;
}

export const REKEY_AFTER_MS = 120_000;
export const REJECT_AFTER_MS = 180_000;
export const HANDSHAKE_RETRY_MS = 1_000;

/** Counters both roles keep. */
export interface CoreStats {
  counters: {
    handshakes: number;
    dhUnverified: number;
    cookieReplies: number;
    packetsIn: number;
    packetsOut: number;
    bytesIn: number;
    bytesOut: number;
  };
  drops: {
    cookie: number;
    replay: number;
    auth: number;
    acl: number;
    malformed: number;
    ratelimit: number;
  };
  peers: {
    name: string;
    publicKey: Uint8Array;
    tunnelIp: number;
    endpoint: string | null;
    lastHandshake: number | null;
    bytesIn: number;
    bytesOut: number;
  }[];
}

function newStats(): Omit<CoreStats, "peers"> {
  return {
    counters: {
      handshakes: 0,
      dhUnverified: 0,
      cookieReplies: 0,
      packetsIn: 0,
      packetsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
    },
    drops: { cookie: 0, replay: 0, auth: 0, acl: 0, malformed: 0, ratelimit: 0 },
  };
}

function hostOf(addr: Addr): string {
  const s = addr.toString();
  const i = s.lastIndexOf(":");
  return i < 0 ? s : s.slice(0, i);
}

function randomIndex(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

function b64(k: Uint8Array): string {
  return btoa(String.fromCharCode(...k));
}

/** A peer the server accepts. */
export interface ServerPeer {
  name: string;
  publicKey: Uint8Array;
  tunnelIp: number;
}

interface PeerState extends ServerPeer {
  session?: Session;
  previous?: Session;
  endpoint?: Addr;
  lastTimestamp: bigint;
  lastHandshake: number | null;
  bytesIn: number;
  bytesOut: number;
}

/** Options of {@link TunnelServer}. */
export interface ServerOptions {
  privateKey: Uint8Array;
  tunnelIp: number;
  peers: ServerPeer[];
  tun: TunDevice;
  bind: PacketConn;
  replayWindow?: number;
  rateLimit?: { perSecond: number; burst: number };
  log?: (line: string) => void;
}

/** The server: one session per authorised client, routing by inner destination. */
export class TunnelServer {
  #o: ServerOptions;
  #key: StaticKey;
  #stats = newStats();
  #byKey = new Map<string, PeerState>();
  #byIp = new Map<number, PeerState>();
  #byIndex = new Map<number, { peer: PeerState; session: Session }>();
  #cookies = new CookieJar();
  #limiter: RateLimiter;
  #ac = new AbortController();
  #log: (line: string) => void;
  #done: Promise<unknown> = Promise.resolve();

  constructor(o: ServerOptions) {
    this.#o = o;
    this.#key = new StaticKey(o.privateKey);
    this.#limiter = new RateLimiter(o.rateLimit?.perSecond ?? 20, o.rateLimit?.burst ?? 40);
    this.#log = o.log ?? (() => {});
    for (const p of o.peers) {
      const st: PeerState = {
        ...p,
        lastTimestamp: 0n,
        lastHandshake: null,
        bytesIn: 0,
        bytesOut: 0,
      };
      this.#byKey.set(b64(p.publicKey), st);
      this.#byIp.set(p.tunnelIp, st);
    }
  }

  start(): void {
    this.#done = Promise.allSettled([this.#udpLoop(), this.#tunLoop(), this.#timers()]);
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    this.#o.bind.close();
    this.#o.tun.close();
    await this.#done;
  }

  stats(): CoreStats {
    return {
      counters: { ...this.#stats.counters },
      drops: { ...this.#stats.drops },
      peers: [...this.#byKey.values()].map((p) => ({
        name: p.name,
        publicKey: p.publicKey,
        tunnelIp: p.tunnelIp,
        endpoint: p.endpoint?.toString() ?? null,
        lastHandshake: p.lastHandshake,
        bytesIn: p.bytesIn,
        bytesOut: p.bytesOut,
      })),
    };
  }

  async #timers(): Promise<void> {
    const signal = this.#ac.signal;
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = Date.now();
      for (const [idx, { peer, session }] of this.#byIndex) {
        if (now - session.created > REJECT_AFTER_MS) {
          this.#byIndex.delete(idx);
          if (peer.session === session) peer.session = undefined;
          if (peer.previous === session) peer.previous = undefined;
        }
      }
    }
  }

  async #udpLoop(): Promise<void> {
    const { bind } = this.#o;
    const signal = this.#ac.signal;
    while (!signal.aborted) {
      let pkt;
      try {
        pkt = await bind.readFrom(signal);
      } catch (e) {
        if (e instanceof ClosedError || signal.aborted) return;
        continue;
      }
      try {
        await this.#onPacket(pkt.data, pkt.addr);
      } catch (e) {
        this.#stats.drops.malformed++;
        this.#log(`dropped a packet: ${(e as Error).message}`);
      }
    }
  }

  async #send(data: Uint8Array, addr: Addr): Promise<void> {
    try {
      await this.#o.bind.writeTo(data, addr);
    } catch { /* unreachable sources are not our problem */ }
  }

  async #onPacket(data: Uint8Array, from: Addr): Promise<void> {
    const s = this.#stats;
    switch (messageType(data)) {
      case MSG_DATA:
        return await this.#onData(data, from);
      case MSG_INIT: {
        if (!this.#limiter.allow(hostOf(from))) {
          s.drops.ratelimit++;
          return;
        }
        s.counters.cookieReplies++;
        return await this.#send(
          buildCookie(u32(data, 4), this.#cookies.make(from.toString())),
          from,
        );
      }
      case MSG_INIT_WITH_COOKIE: {
        if (!this.#limiter.allow(hostOf(from))) {
          s.drops.ratelimit++;
          return;
        }
        const cookieOk = this.#cookies.check(from.toString(), data.subarray(112, 128));
        if (!cookieOk) {
          s.drops.cookie++;
          return;
        }
        // Structurally unreachable without a valid cookie; counted where the DH happens.
        if (!cookieOk) s.counters.dhUnverified++;
        const step1 = readInitStatic(this.#key, data);
        if (!step1) {
          s.drops.auth++;
          return;
        }
        const peer = this.#byKey.get(b64(step1.peerStatic));
        if (!peer) {
          s.drops.acl++;
          this.#log(`handshake from ${from} with an unknown key refused`);
          return;
        }
        const init = readInitTimestamp(this.#key, data, step1);
        if (!init) {
          s.drops.auth++;
          return;
        }
        if (init.timestamp <= peer.lastTimestamp) {
          s.drops.replay++;
          return;
        }
        peer.lastTimestamp = init.timestamp;
        let index = randomIndex();
        while (this.#byIndex.has(index)) index = randomIndex();
        const { message, keys } = respond(init, index);
        const session = new Session(index, init.sender, keys, this.#o.replayWindow ?? 8128);
        if (peer.previous) this.#byIndex.delete(peer.previous.localIndex);
        peer.previous = peer.session;
        peer.session = session;
        peer.endpoint = from;
        peer.lastHandshake = Date.now();
        this.#byIndex.set(index, { peer, session });
        s.counters.handshakes++;
        this.#log(`handshake with ${peer.name} from ${from}`);
        return await this.#send(message, from);
      }
      default:
        s.drops.malformed++;
    }
  }

  async #onData(data: Uint8Array, from: Addr): Promise<void> {
    const s = this.#stats;
    const entry = this.#byIndex.get(u32(data, 4));
    if (!entry) {
      s.drops.auth++;
      return;
    }
    const plain = entry.session.open(data);
    if (plain === "auth" || plain === "replay") {
      s.drops[plain]++;
      return;
    }
    const { peer } = entry;
    s.counters.packetsIn++;
    s.counters.bytesIn += data.length;
    peer.bytesIn += data.length;
    if (peer.endpoint?.toString() !== from.toString()) {
      this.#log(`${peer.name} roamed to ${from}`);
      peer.endpoint = from;
    }
    if (entry.session !== peer.session && peer.session === undefined) peer.session = entry.session;
    if (plain.length === 0) return; // keepalive
    const ip = ipv4Addrs(plain);
    if (!ip) {
      s.drops.malformed++;
      return;
    }
    if (ip.src !== peer.tunnelIp) {
      s.drops.acl++;
      return;
    }
    const to = this.#byIp.get(ip.dst);
    if (to) return await this.#sendTo(to, plain);
    await this.#o.tun.write(plain);
  }

  async #sendTo(peer: PeerState, plain: Uint8Array): Promise<void> {
    const session = peer.session;
    if (!session || !peer.endpoint) return;
    const msg = session.seal(plain);
    this.#stats.counters.packetsOut++;
    this.#stats.counters.bytesOut += msg.length;
    peer.bytesOut += msg.length;
    await this.#send(msg, peer.endpoint);
  }

  async #tunLoop(): Promise<void> {
    const signal = this.#ac.signal;
    while (!signal.aborted) {
      let pkt: Uint8Array;
      try {
        pkt = await this.#o.tun.read(signal);
      } catch {
        return;
      }
      const ip = ipv4Addrs(pkt);
      const peer = ip && this.#byIp.get(ip.dst);
      if (peer) await this.#sendTo(peer, pkt);
    }
  }
}

/** Options of {@link TunnelClient}. */
export interface ClientOptions {
  privateKey: Uint8Array;
  serverPublicKey: Uint8Array;
  server: Addr;
  tun: TunDevice;
  bind: PacketConn;
  keepaliveSeconds?: number;
  replayWindow?: number;
  log?: (line: string) => void;
}

/** The client: handshakes with the server (cookie first), rekeys, keeps alive. */
export class TunnelClient {
  #o: ClientOptions;
  #key: StaticKey;
  #stats = newStats();
  #session?: Session;
  #previous?: Session;
  #pending?: Initiation;
  #initSender = 0;
  #lastInitAt = 0;
  #lastHandshake: number | null = null;
  #ac = new AbortController();
  #log: (line: string) => void;
  #done: Promise<unknown> = Promise.resolve();

  constructor(o: ClientOptions) {
    this.#o = o;
    this.#key = new StaticKey(o.privateKey);
    this.#log = o.log ?? (() => {});
  }

  start(): void {
    this.#done = Promise.allSettled([this.#udpLoop(), this.#tunLoop(), this.#timers()]);
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    this.#o.bind.close();
    this.#o.tun.close();
    await this.#done;
  }

  stats(): CoreStats {
    const c = this.#stats.counters;
    return {
      counters: { ...c },
      drops: { ...this.#stats.drops },
      peers: [{
        name: "server",
        publicKey: this.#o.serverPublicKey,
        tunnelIp: 0,
        endpoint: this.#o.server.toString(),
        lastHandshake: this.#lastHandshake,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      }],
    };
  }

  async #send(data: Uint8Array): Promise<void> {
    try {
      await this.#o.bind.writeTo(data, this.#o.server);
    } catch { /* the network may be down for a moment */ }
  }

  async #sendInit(): Promise<void> {
    this.#initSender = randomIndex();
    this.#lastInitAt = Date.now();
    await this.#send(buildInit(this.#initSender));
  }

  async #timers(): Promise<void> {
    const signal = this.#ac.signal;
    await this.#sendInit();
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 250));
      const now = Date.now();
      const s = this.#session;
      const needs = !s || now - s.created > REKEY_AFTER_MS || s.messagesSent > 1n << 60n;
      if (needs && now - this.#lastInitAt >= HANDSHAKE_RETRY_MS) await this.#sendInit();
      if (s && now - s.created > REJECT_AFTER_MS) this.#session = undefined;
      const ka = (this.#o.keepaliveSeconds ?? 10) * 1000;
      if (s && ka > 0 && now - s.lastSent >= ka) await this.#sendData(new Uint8Array(0));
    }
  }

  async #sendData(plain: Uint8Array): Promise<void> {
    const s = this.#session;
    if (!s) return;
    const msg = s.seal(plain);
    this.#stats.counters.packetsOut++;
    this.#stats.counters.bytesOut += msg.length;
    await this.#send(msg);
  }

  async #udpLoop(): Promise<void> {
    const { bind } = this.#o;
    const signal = this.#ac.signal;
    const st = this.#stats;
    while (!signal.aborted) {
      let pkt;
      try {
        pkt = await bind.readFrom(signal);
      } catch (e) {
        if (e instanceof ClosedError || signal.aborted) return;
        continue;
      }
      const data = pkt.data;
      switch (messageType(data)) {
        case MSG_COOKIE: {
          if (u32(data, 4) !== this.#initSender) {
            st.drops.cookie++;
            break;
          }
          this.#pending = initiate(
            this.#key,
            this.#o.serverPublicKey,
            this.#initSender,
            data.subarray(8, 24),
          );
          await this.#send(this.#pending.message);
          break;
        }
        case MSG_RESPONSE: {
          const ini = this.#pending;
          if (!ini || u32(data, 8) !== ini.sender) {
            st.drops.auth++;
            break;
          }
          const r = readResponse(this.#key, ini, data);
          if (!r) {
            st.drops.auth++;
            break;
          }
          this.#pending = undefined;
          this.#previous = this.#session;
          this.#session = new Session(ini.sender, r.receiver, r.keys, this.#o.replayWindow ?? 8128);
          this.#lastHandshake = Date.now();
          st.counters.handshakes++;
          this.#log(`handshake with the server complete`);
          // Confirms the session to the server at once.
          await this.#sendData(new Uint8Array(0));
          break;
        }
        case MSG_DATA: {
          const idx = u32(data, 4);
          const s = this.#session?.localIndex === idx
            ? this.#session
            : this.#previous?.localIndex === idx
            ? this.#previous
            : undefined;
          if (!s) {
            st.drops.auth++;
            break;
          }
          const plain = s.open(data);
          if (plain === "auth" || plain === "replay") {
            st.drops[plain]++;
            break;
          }
          st.counters.packetsIn++;
          st.counters.bytesIn += data.length;
          if (plain.length > 0) await this.#o.tun.write(plain);
          break;
        }
        default:
          st.drops.malformed++;
      }
    }
  }

  async #tunLoop(): Promise<void> {
    const signal = this.#ac.signal;
    while (!signal.aborted) {
      let pkt: Uint8Array;
      try {
        pkt = await this.#o.tun.read(signal);
      } catch {
        return;
      }
      await this.#sendData(pkt);
    }
  }
}
