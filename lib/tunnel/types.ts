/** Interfaces and counters shared by the server and the client. @module */

/** What the core needs from a TUN device (lib/tunnel/tun_linux.ts, or a memory twin). */
export interface TunDevice {
  readonly name: string;
  readonly mtu: number;
  read(signal?: AbortSignal): Promise<Uint8Array>;
  write(packet: Uint8Array): Promise<void>;
  close(): void;
}

/** Session timers and limits (WireGuard's values by default). */
export interface TunnelLimits {
  /** The initiator starts a new handshake when its session is this old. */
  rekeyAfterMs: number;
  /** A session older than this neither sends nor receives. */
  rejectAfterMs: number;
  /** Keepalive interval: the client's persistent keepalive; the server's passive one. */
  keepaliveMs: number;
  /** Initiation retry interval while no response arrives. */
  handshakeRetryMs: number;
  /** The initiator rekeys after sending this many messages in a session. */
  rekeyAfterMessages: number;
  /** No message is sent or accepted with a counter at or above this. */
  rejectAfterMessages: number;
  /** How long the client reuses a cookie before asking for a new one. */
  cookieLifetimeMs: number;
}

export const TUNNEL_DEFAULT_LIMITS: Readonly<TunnelLimits> = Object.freeze({
  rekeyAfterMs: 120_000,
  rejectAfterMs: 180_000,
  keepaliveMs: 10_000,
  handshakeRetryMs: 5_000,
  rekeyAfterMessages: 2 ** 48,
  rejectAfterMessages: 2 ** 48 + 2 ** 32,
  cookieLifetimeMs: 110_000,
});

/** Validates and completes partial limits (RangeError naming the field). */
export function tunnelLimits(partial: Partial<TunnelLimits> = {}): TunnelLimits {
  const l = { ...TUNNEL_DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) {
      throw new RangeError(`limits.${k} ${v} must be a finite number ≥ 0`);
    }
  }
  if (l.rekeyAfterMs > l.rejectAfterMs) {
    throw new RangeError(`limits.rekeyAfterMs ${l.rekeyAfterMs} exceeds rejectAfterMs`);
  }
  if (l.rejectAfterMessages > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`limits.rejectAfterMessages ${l.rejectAfterMessages} exceeds 2^53`);
  }
  return l;
}

/** Drop reasons. */
export interface TunnelDrops {
  /** Initiations under load without a valid cookie (answered with a challenge, no DH). */
  cookie: number;
  /** Handshake-class packets dropped because the handshake queue was full (a flood). */
  handshakeQueue: number;
  /** Cookie challenges not sent: the global cookie-reply budget was spent (a flood). */
  cookieBudget: number;
  /** Duplicate / too old data counters, and replayed initiations (old timestamp). */
  replay: number;
  /** Bad mac1, failed decryption, unknown receiver index, expired session. */
  auth: number;
  /** Unknown client key, or an inner source IP that is not the sender's. */
  acl: number;
  /** Wrong type, size or reserved bytes; inner packets that are not IPv4. */
  malformed: number;
  /** Handshakes over the per-source rate limit. */
  ratelimit: number;
  /** Packets with no peer or no session to send them on. */
  noroute: number;
}

/** Counters of one server or client. */
export interface TunnelCounters {
  handshakes: number;
  /**
   * DH operations done for initiations without a valid cookie: only when not
   * under load, at most the server's unproven-handshake budget per second.
   */
  dhUnverified: number;
  /** DH operations done in total (responder and initiator). */
  dhOperations: number;
  cookieReplies: number;
  cookieChallengesReceived: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  keepalivesIn: number;
  keepalivesOut: number;
  roams: number;
}

/** One peer as seen in stats. */
export interface TunnelPeerStats {
  name: string;
  publicKey: Uint8Array;
  /** u32 IPv4 (0 for the client's view of its server). */
  tunnelIp: number;
  endpoint: string | null;
  lastHandshake: number | null;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** True while a session can carry data. */
  connected: boolean;
}

export interface TunnelStats {
  counters: TunnelCounters;
  drops: TunnelDrops;
  peers: TunnelPeerStats[];
}

export function newCounters(): TunnelCounters {
  return {
    handshakes: 0,
    dhUnverified: 0,
    dhOperations: 0,
    cookieReplies: 0,
    cookieChallengesReceived: 0,
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    keepalivesIn: 0,
    keepalivesOut: 0,
    roams: 0,
  };
}

export function newDrops(): TunnelDrops {
  return {
    cookie: 0,
    handshakeQueue: 0,
    cookieBudget: 0,
    replay: 0,
    auth: 0,
    acl: 0,
    malformed: 0,
    ratelimit: 0,
    noroute: 0,
  };
}

/** Events for UIs and tests. */
export type TunnelEvent =
  | { type: "handshake"; peer: string; endpoint: string }
  | { type: "roam"; peer: string; from: string; to: string }
  | { type: "expired"; peer: string };
