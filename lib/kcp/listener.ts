/**
 * Server side: one PacketConn, many KCP sessions keyed by the remote address.
 *
 * @module
 */
import { AsyncQueue } from "../net/queue.ts";
import { ClosedError } from "../net/errors.ts";
import type { Addr, Conn, Listener, PacketConn } from "../net/types.ts";
import { openNone } from "./crypt.ts";
import { CMD_PUSH, CMD_WINS, OVERHEAD, readU32 } from "./segment.ts";
import { type KcpOptions, type ResolvedKcpOptions, resolveOptions } from "./options.ts";
import { KcpSession } from "./session.ts";

// Implementation constants.
/** New sessions not yet accepted; beyond it new conversations are dropped (kcp-go does the same). */
const ACCEPT_BACKLOG = 128;

/** Counters of packets the listener dropped before any session saw them. */
export interface KcpListenerStats {
  packetsIn: number;
  badCrc: number;
  /** Malformed, or a stray packet that cannot start a session. */
  badPackets: number;
  /** New conversations dropped because the accept backlog was full. */
  backlogDrops: number;
  sessionsCreated: number;
}

/**
 * Checks that `body` is whole segments of one conv with known commands, and
 * returns the sn of its first PUSH, or -1 (no PUSH), or -2 (malformed).
 */
function scanNewConv(body: Uint8Array, conv: number): number {
  let o = 0;
  let pushSn = -1;
  while (o < body.length) {
    if (body.length - o < OVERHEAD || readU32(body, o) !== conv) return -2;
    const cmd = body[o + 4]!;
    if (cmd < CMD_PUSH || cmd > CMD_WINS) return -2;
    const len = readU32(body, o + 20);
    if (len > body.length - o - OVERHEAD) return -2;
    if (cmd === CMD_PUSH && pushSn === -1) pushSn = readU32(body, o + 12);
    o += OVERHEAD + len;
  }
  return pushSn;
}

export class KcpListener implements Listener {
  readonly stats: KcpListenerStats = {
    packetsIn: 0,
    badCrc: 0,
    badPackets: 0,
    backlogDrops: 0,
    sessionsCreated: 0,
  };
  #pconn: PacketConn;
  #opts: ResolvedKcpOptions;
  #sessions = new Map<string, KcpSession>();
  #accepts = new AsyncQueue<KcpSession>(ACCEPT_BACKLOG);
  #abort = new AbortController();
  #closed = false;

  constructor(pconn: PacketConn, options: KcpOptions = {}) {
    this.#opts = resolveOptions(options);
    this.#pconn = pconn;
    this.#readLoop();
  }

  get addr(): Addr {
    return this.#pconn.localAddr;
  }

  /** Live sessions. */
  get numSessions(): number {
    return this.#sessions.size;
  }

  /** Waits for the next new session. Rejects with ClosedError once closed. */
  accept(signal?: AbortSignal): Promise<KcpSession> {
    return this.#accepts.shift(signal);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Conn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  async #readLoop(): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      let packet;
      try {
        packet = await this.#pconn.readFrom(signal);
      } catch {
        this.close();
        return;
      }
      this.input(packet.data, packet.addr);
    }
  }

  /** Routes one packet (as read from the PacketConn) to its session. Never throws. */
  input(data: Uint8Array, addr: Addr): void {
    if (this.#closed) return;
    this.stats.packetsIn++;
    let body: Uint8Array | null = data;
    if (this.#opts.crypt === "none") {
      body = openNone(data);
      if (body === null) {
        this.stats.badCrc++;
        return;
      }
    }
    if (body.length < OVERHEAD) {
      this.stats.badPackets++;
      return;
    }
    const key = addr.toString();
    const conv = readU32(body, 0);
    const existing = this.#sessions.get(key);
    if (existing !== undefined && existing.conv === conv) {
      existing.input(data);
      return;
    }
    // A new conversation: only a well-formed packet carrying data may start one,
    // and from a known address only a PUSH with sn 0 replaces the old session.
    const sn = scanNewConv(body, conv);
    if (sn === -2 || sn === -1 || (existing !== undefined && sn !== 0)) {
      this.stats.badPackets++;
      return;
    }
    if (this.#accepts.length >= ACCEPT_BACKLOG) {
      this.stats.backlogDrops++;
      return;
    }
    existing?.close();
    const session = new KcpSession(this.#pconn, addr, conv, this.#opts, {
      demuxed: true,
      onClose: (s) => {
        if (this.#sessions.get(key) === s) this.#sessions.delete(key);
      },
    });
    this.#sessions.set(key, session);
    this.stats.sessionsCreated++;
    this.#accepts.push(session);
    session.input(data);
  }

  /** Stops accepting, closes every session and (if ownsConn) the PacketConn. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new ClosedError("KCP listener"));
    this.#accepts.close(new ClosedError("KCP listener"));
    for (const s of [...this.#sessions.values()]) s.close();
    this.#sessions.clear();
    if (this.#opts.ownsConn) this.#pconn.close();
  }
}

/** Accepts KCP sessions on `pconn` (kcp-go's ServeConn). */
export function listenKcp(pconn: PacketConn, options: KcpOptions = {}): KcpListener {
  return new KcpListener(pconn, options);
}
