/** Settings of a KCP session (kcp-go's knobs) and the Snowflake preset. */
export interface KcpOptions {
  /** Conversation id; dialKcp picks a random u32 when omitted. */
  conv?: number;
  /** 0 = normal RTO (min 100 ms, doubling backoff); 1 = nodelay (min 30 ms). Default 0. */
  nodelay?: number;
  /** Flush interval in ms, clamped to [10, 5000]. Default 10. */
  interval?: number;
  /** Fast retransmit after this many later acks; 0 = off. Default 0. */
  resend?: number;
  /** 1 = congestion window off. Default 1. */
  nc?: number;
  /** Send window in segments. Default 65535. */
  sndWnd?: number;
  /** Receive window in segments. Default 65535. */
  rcvWnd?: number;
  /** Largest packet on the wire, framing included. Default 1400. */
  mtu?: number;
  /** Stream mode (no message boundaries). Default true. */
  stream?: boolean;
  /** "none" = kcp-go's 16-byte nonce + CRC32 framing (kcptun `--crypt none`); null = raw. */
  crypt?: "none" | null;
  /** Close the PacketConn when the session (dial) or the listener closes. Default true. */
  ownsConn?: boolean;
  /** Flush acknowledgements as soon as a packet arrives (kcp-go's ackNoDelay). Default false. */
  ackNoDelay?: boolean;
  /** Close the session once a segment was sent 20 times unacknowledged. Default true. */
  closeOnDeadLink?: boolean;
  /** Clock in ms, injectable for tests. Default performance.now. */
  now?: () => number;
}

/** Snowflake's settings (PROTOCOL.md §3): NoDelay(0, 10, 0, 1), windows 65535, MTU 1400, stream. */
export const SNOWFLAKE_KCP: Readonly<KcpOptions> = Object.freeze({
  nodelay: 0,
  interval: 10,
  resend: 0,
  nc: 1,
  sndWnd: 65535,
  rcvWnd: 65535,
  mtu: 1400,
  stream: true,
  crypt: null,
});

/** Every option with its default filled in. */
export type ResolvedKcpOptions = Required<Omit<KcpOptions, "conv">> & { conv?: number };

export function resolveOptions(options: KcpOptions = {}): ResolvedKcpOptions {
  const o: ResolvedKcpOptions = {
    ...SNOWFLAKE_KCP,
    ownsConn: true,
    ackNoDelay: false,
    closeOnDeadLink: true,
    now: () => performance.now(),
    ...options,
  } as ResolvedKcpOptions;
  if (o.crypt !== null && o.crypt !== "none") {
    throw new TypeError(`crypt ${JSON.stringify(o.crypt)} is not supported (only "none" or null)`);
  }
  for (const k of ["nodelay", "interval", "resend", "nc", "sndWnd", "rcvWnd", "mtu"] as const) {
    const v = o[k];
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`KCP option ${k}=${v} is invalid`);
  }
  if (o.conv !== undefined && (!Number.isInteger(o.conv) || o.conv < 0 || o.conv > 0xffffffff)) {
    throw new RangeError(`KCP conv ${o.conv} is not a u32`);
  }
  return o;
}
