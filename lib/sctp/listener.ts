/**
 * The server side: one usrsctp one-to-many socket takes every client's association, and
 * each stream a client opens comes out as a {@link Conn} whose `remoteAddr` is the
 * association's peer (the UDP source address: what the ExtORPort's USERADDR reports).
 *
 * Bad input stays inside usrsctp: malformed packets and chunks are dropped there, INIT is
 * answered with a state cookie and no state (RFC 9260 §5.1.3), dead peers go away after
 * unanswered heartbeats, idle ones after `autocloseSeconds`.
 *
 * @module
 */
import { HostPortAddr } from "../net/addr.ts";
import { ClosedError } from "../net/errors.ts";
import { sleep } from "../net/sleep.ts";
import { AsyncQueue } from "../net/queue.ts";
import type { Addr, Conn, Listener } from "../net/types.ts";
import { Association, ByteBudget, type SctpStream } from "./association.ts";
import { decodeNotification } from "./notification.ts";
import { MSG_NOTIFICATION, SOCK_SEQPACKET, UsrsctpSocket, usrsctpStack } from "./usrsctp.ts";

/** Options for {@link listenSctp}. */
export interface SctpListenOptions {
  /** Address to bind SCTP to (the UDP socket itself listens on every address). */
  hostname: string;
  /** The UDP encapsulation port; also the SCTP port unless `sctpPort` is given. */
  port: number;
  sctpPort?: number;
  /** Streams per association (default 1024). */
  streams?: number;
  /** Associations at once; more are aborted (default 10,000). */
  maxAssociations?: number;
  /** Close associations after this many seconds without user data (default 600; 0 = never). */
  autocloseSeconds?: number;
  /** Streams accepted but not yet taken by the consumer (default 1,024). */
  backlog?: number;
  /** Unread bytes across all associations before the listener stops reading (256 MiB). */
  queueLimit?: number;
  /** Where aborted associations are reported. */
  log?: (message: string) => void;
}

/** Consecutive failed receives before the listener gives up. */
const MAX_RECEIVE_FAILURES = 100;

/** 256 MiB: the server's memory bound for bytes its readers have not taken yet. */
const LISTENER_QUEUE_LIMIT = 256 * 1024 * 1024;

/** Counters for logs and tests. */
export interface SctpListenerStats {
  associations: number;
  associationsTotal: number;
  associationsRefused: number;
  /** Aborted because their streams' readers fell 16 MiB behind (association.ts). */
  associationsOverrun: number;
  streams: number;
}

/** Listens for SCTP associations over UDP encapsulation; yields one Conn per stream. */
export function listenSctp(options: SctpListenOptions): SctpListener {
  return new SctpListener(options);
}

export class SctpListener implements Listener {
  readonly addr: Addr;
  readonly stats: SctpListenerStats = {
    associations: 0,
    associationsTotal: 0,
    associationsRefused: 0,
    associationsOverrun: 0,
    streams: 0,
  };
  readonly #socket: UsrsctpSocket;
  readonly #associations = new Map<number, Association>();
  /** Unread bytes across every association; above it the receive loop waits. */
  readonly #budget: ByteBudget;
  readonly #accepted: AsyncQueue<Conn>;
  readonly #options: SctpListenOptions;
  readonly #loop: Promise<void>;
  #pendingRecv: Promise<unknown> | undefined;

  constructor(options: SctpListenOptions) {
    this.#options = options;
    this.#budget = new ByteBudget(options.queueLimit ?? LISTENER_QUEUE_LIMIT);
    const ffi = usrsctpStack(options.port);
    this.#socket = new UsrsctpSocket(ffi, SOCK_SEQPACKET, {
      streams: options.streams ?? 1024,
      autocloseSeconds: options.autocloseSeconds ?? 600,
    });
    this.#socket.listen(options.hostname, options.sctpPort ?? options.port);
    this.addr = new HostPortAddr("sctp", options.hostname, options.port);
    this.#accepted = new AsyncQueue(options.backlog ?? 1024);
    this.#loop = this.#receiveLoop();
  }

  async #receiveLoop(): Promise<void> {
    let failures = 0;
    for (;;) {
      const recv = this.#socket.recv();
      this.#pendingRecv = recv;
      let m;
      try {
        m = await recv;
        failures = 0;
      } catch (e) {
        // A one-to-many socket has no EOF: a failed receive is retried, unless it keeps failing.
        if (++failures > MAX_RECEIVE_FAILURES) break;
        this.#options.log?.(`${(e as Error).message}; retrying`);
        await sleep(10);
        continue;
      }
      if (!m) break;
      if (m.flags & MSG_NOTIFICATION) {
        this.#onNotification(m.data);
        continue;
      }
      const assoc = this.#associations.get(m.assocId) ?? this.#adopt(m.assocId, 0);
      if (!assoc) continue;
      if (m.from && !assoc.remoteKnown) {
        assoc.remoteAddr = new HostPortAddr("sctp", m.from.hostname, m.from.port);
      }
      const opened = assoc.receive(m.sid, m.ppid, m.data, true);
      if (opened) this.#offer(opened);
      if (assoc.budget.over) this.#abort(m.assocId, assoc, "its readers fell behind");
      if (this.#budget.over) await this.#budget.drained();
    }
    const closed = new ClosedError("SCTP listener");
    for (const a of this.#associations.values()) a.fail(closed);
    this.#associations.clear();
    this.#accepted.close(closed);
  }

  #onNotification(data: Uint8Array) {
    const ev = decodeNotification(data);
    if (!ev) return;
    if (ev.kind === "down" || ev.kind === "restart") {
      const a = this.#associations.get(ev.assocId);
      if (a) {
        a.fail(new ClosedError(`SCTP association (${ev.kind === "down" ? ev.reason : "restart"})`));
        this.#associations.delete(ev.assocId);
        this.stats.associations--;
      }
    }
    if (ev.kind === "up" || ev.kind === "restart") {
      this.#adopt(ev.assocId, ev.outboundStreams);
    }
  }

  /** Records an association; aborts it when there are already too many. */
  #adopt(assocId: number, outboundStreams: number): Association | null {
    const existing = this.#associations.get(assocId);
    if (existing) return existing;
    if (this.#associations.size >= (this.#options.maxAssociations ?? 10_000)) {
      this.stats.associationsRefused++;
      this.#options.log?.(`SCTP association refused: ${this.#associations.size} already`);
      this.#socket.send(assocId, 0, 0, new Uint8Array(0), true).catch(() => {});
      return null;
    }
    const assoc = new Association({
      localAddr: this.addr,
      shared: this.#budget,
      streams: outboundStreams || (this.#options.streams ?? 1024),
      send: (sid, ppid, data) => this.#socket.send(assocId, sid, ppid, data),
    });
    this.#associations.set(assocId, assoc);
    this.stats.associations++;
    this.stats.associationsTotal++;
    return assoc;
  }

  /** Aborts one association: its peer sent more than its streams' readers took. */
  #abort(assocId: number, assoc: Association, why: string) {
    this.stats.associationsOverrun++;
    this.#options.log?.(`SCTP association from ${assoc.remoteAddr} aborted: ${why}`);
    this.#socket.send(assocId, 0, 0, new Uint8Array(0), true).catch(() => {});
    assoc.fail(new ClosedError(`SCTP association (aborted: ${why})`));
    this.#associations.delete(assocId);
    this.stats.associations--;
  }

  #offer(stream: SctpStream) {
    this.stats.streams++;
    if (!this.#accepted.push(stream)) stream.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Conn> {
    for (;;) {
      try {
        yield await this.#accepted.shift();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  /**
   * Stops taking streams and aborts every association. The receive loop (and with it
   * {@link closed}) ends when usrsctp wakes it with the aborts' notifications; with no
   * association left, its pool thread stays parked until the process exits.
   */
  close(): void {
    for (const id of this.#associations.keys()) {
      this.#socket.send(id, 0, 0, new Uint8Array(0), true).catch(() => {});
    }
    this.#socket.close(this.#pendingRecv);
  }

  /** Resolves when the receive loop has ended after {@link close}. */
  get closed(): Promise<void> {
    return this.#loop;
  }
}
