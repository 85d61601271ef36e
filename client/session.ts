/**
 * One Snowflake session (docs/PROTOCOL.md §3–5): a fresh ClientID; a {@link PeerPool} keeping
 * `max` proxies connected; with `max` 1 a RedialPacketConn that carries the KCP packets over one
 * popped proxy at a time, moving to the next when it dies; with `max` ≥ 2 a
 * MultiplexingPacketConn striping them over every pooled proxy at once (the carrier pump writes
 * token + ClientID first on each); KCP and smux with Snowflake's settings; one smux stream per
 * SOCKS connection it carries, the first opened with the session (PT mode: one, as in Go;
 * standalone mode: every connection with the same settings, client/shared_sessions.ts). Closing
 * it, or its smux closing on its own (keepalive timeout, KCP dead link), closes smux, KCP, the
 * packet conn and every peer connection.
 *
 * @module
 */
import { dialKcp, SNOWFLAKE_KCP } from "../lib/kcp/mod.ts";
import { type Conn, NamedAddr } from "../lib/net/mod.ts";
import { SmuxSession, type SmuxStream, SNOWFLAKE_SMUX_CLIENT } from "../lib/smux/mod.ts";
import { ClientID, MultiplexingPacketConn, RedialPacketConn } from "../lib/turbotunnel/mod.ts";
import { PeerPool, type PoolPeer } from "./peer_pool.ts";

/** A proxy connection as the session sees it: a peer with a byte stream. */
export interface SessionPeer extends PoolPeer {
  readonly conn: Conn;
  bytesIn: number;
  bytesOut: number;
}

/** Options for {@link startSession}. */
export interface SessionOptions<P extends SessionPeer> {
  /** Connects one new proxy (rendezvous + WebRTC), or rejects. */
  dialPeer: (signal: AbortSignal) => Promise<P>;
  max: number;
  log: (message: string) => void;
  /** Seconds between traffic summaries in the log; 0 = none. Default 60. */
  summaryIntervalS?: number;
}

/** A running session. */
export interface Session<P extends SessionPeer> {
  readonly id: ClientID;
  /** "session N", for logs (never the ClientID, which links a user's connections). */
  readonly name: string;
  readonly pool: PeerPool<P>;
  /** Resolves once the session is closed, here or on its own. */
  readonly closed: Promise<void>;
  /**
   * How long a proxy has carried the session without a byte from the server: since the later of
   * the last byte and the latest proxy handed out; 0 while no proxy is live (still collecting
   * one is not the server's silence) or the client's own receive buffer paused reading.
   */
  readonly silentMs: number;
  /** Opens one more smux stream; rejects once the session is closed. */
  openStream(): Promise<Conn>;
  close(): void;
}

const SERVER = new NamedAddr("snowflake", "server");
let sessions = 0;

/** Starts the session: its pool starts collecting proxies; streams can be opened at once. */
export function startSession<P extends SessionPeer>(options: SessionOptions<P>): Session<P> {
  const id = ClientID.random();
  const name = `session ${++sessions}`;
  const log = (m: string) => options.log(`${name}: ${m}`);
  const pool = new PeerPool(options.dialPeer, { max: options.max, log });
  // A download cut mid-frame is a session waiting for the server (docs/client.md "Multipath").
  const midFrame = () => smux.midFrame;
  const pconn = options.max >= 2
    ? multiplexing(id, pool, options.max, midFrame, log)
    : redialing(id, pool, log);
  const kcp = dialKcp(pconn, SERVER, SNOWFLAKE_KCP);
  const smux: SmuxSession = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  let summary: ReturnType<typeof setInterval> | undefined;
  const interval = options.summaryIntervalS ?? (options.max >= 2 ? 10 : 60);
  if (interval > 0) {
    let lastIn = 0;
    let lastOut = 0;
    summary = setInterval(() => {
      const peers = pool.peers();
      const bytesIn = peers.reduce((n, p) => n + p.bytesIn, 0);
      const bytesOut = peers.reduce((n, p) => n + p.bytesOut, 0);
      const shares = pconn instanceof MultiplexingPacketConn ? `; shares: ${pconn.shares()}` : "";
      log(
        `${peers.length} proxies live (${pool.connected} connected so far); ` +
          `traffic in the last ${interval} s: ` +
          `${Math.max(0, bytesIn - lastIn)} bytes in, ${Math.max(0, bytesOut - lastOut)} out` +
          shares,
      );
      lastIn = bytesIn;
      lastOut = bytesOut;
    }, interval * 1000);
  }
  const close = () => {
    clearInterval(summary);
    smux.close();
    kcp.close();
    pconn.close();
    pool.close();
  };
  const closed = smux.closed.then(() => {
    log(`closed: ${smux.closeReason?.message}`);
    close();
  });
  // The first stream is opened with the session: its SYN leaves with the first carrier's
  // token, so the server sets up its KCP and smux session and connects its ORPort while the
  // proxy connects, not when the first SOCKS connection is waiting (docs/client.md "Latency").
  let first: Promise<SmuxStream> | null = smux.openStream();
  const openStream = async (): Promise<Conn> => {
    const ahead = first;
    first = null;
    const stream = await ahead;
    if (stream?.isOpen) return stream;
    // The far end gave up on it while it waited (a SOCKS server's handshake timeout).
    stream?.close();
    return await smux.openStream();
  };
  return {
    id,
    name,
    pool,
    closed,
    get silentMs() {
      if (pool.live === 0 || pool.handedOutAt === 0) return 0;
      return Math.min(smux.silentMs, Date.now() - pool.handedOutAt);
    },
    openStream,
    close,
  };
}

/** `--max 1`: one popped proxy carries the session until it dies (Go's behaviour). */
function redialing<P extends SessionPeer>(
  id: ClientID,
  pool: PeerPool<P>,
  log: (m: string) => void,
): RedialPacketConn {
  let switches = 0;
  return new RedialPacketConn(id, SERVER, async (signal) => {
    const t0 = Date.now();
    const peer = await pool.pop(signal);
    if (switches++ > 0) {
      log(`now using proxy ${peer.id} (waited ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } else log(`using proxy ${peer.id}`);
    return peer.conn;
  }, {
    retryDelayMs: 0,
    onError: (e) => log(`proxy connection ended: ${(e as Error).message}`),
  });
}

/** `--max` ≥ 2: every pooled proxy carries the session at once (docs/client.md "Multipath"). */
function multiplexing<P extends SessionPeer>(
  id: ClientID,
  pool: PeerPool<P>,
  max: number,
  midMessage: () => boolean,
  log: (m: string) => void,
): MultiplexingPacketConn {
  return new MultiplexingPacketConn(id, SERVER, async (signal) => {
    // Closing the conn (a dead path) closes the peer, and the pool collects another.
    return (await pool.pop(signal)).conn;
  }, {
    paths: max,
    retryDelayMs: 0,
    // One proxy beyond `max` when all of them went silent; the first to end is not replaced.
    dialSpare: async (signal) => (await pool.spare(signal)).conn,
    midMessage,
    log,
  });
}
