/**
 * The standalone mode's live sessions, one per effective settings: every SOCKS connection
 * whose settings (flags overridden by its SOCKS credentials as bridge arguments) are the same
 * becomes one more smux stream on the same session, so a browser's dozens of connections take
 * one rendezvous and one volunteer proxy (`--max` of them with multipath), not one each. A
 * session that closed (its smux: keepalive timeout, KCP dead link once no proxy carried its
 * packets, or closed here) is forgotten and the next connection with its settings starts a new
 * one. One left without streams for {@link IDLE_SESSION_MS} is closed: it holds a volunteer's
 * proxy slot. One that is open but has heard nothing from the server for
 * {@link SILENT_SESSION_MS} is retired: its streams go on until it closes, new connections start
 * a new session (docs/client.md "Standalone mode: one session, many streams").
 *
 * @module
 */
import type { Conn } from "../lib/net/mod.ts";
import type { ClientConfig } from "../lib/snowflake/client_config.ts";
import { globalTimers, type Timers } from "../lib/snowflake/webrtc.ts";

/** What is shared: a session that opens streams. */
export interface SharedSession {
  /** For logs. */
  readonly name: string;
  readonly closed: Promise<void>;
  /** How long the session has been carried without hearing from its server (ms). */
  readonly silentMs: number;
  openStream(): Promise<Conn>;
  close(): void;
}

/** A stream on a shared session; `release` closes it (only it) and counts it gone. */
export interface SessionStream<S extends SharedSession> {
  readonly session: S;
  readonly stream: Conn;
  release(): void;
}

/** Options for {@link SharedSessions}. */
export interface SharedSessionsOptions<S extends SharedSession> {
  /** Starts a session with these settings (its proxies are collected in the background). */
  start: (config: ClientConfig) => S;
  /** Closes every session. */
  signal: AbortSignal;
  log?: (message: string) => void;
  timers?: Timers;
}

/**
 * How long a session without streams stays open: long enough that a user reading a page comes
 * back to a connected proxy (browsers drop idle connections after 1–2 minutes and open new
 * ones on the next click), short enough that a client left idle gives its volunteer's slot back.
 */
export const IDLE_SESSION_MS = 5 * 60_000;

/**
 * A session carried this long without a byte from the server takes no new streams: the server
 * sends a smux keepalive every 10 s whatever else it sends, so three missed ones (xtaci/smux's
 * own default keepalive timeout) mean a server that is gone or no longer knows the ClientID
 * (restarted), not a slow one: a slow download delivers bytes, and a client that stopped reading
 * does not count as silence.
 */
export const SILENT_SESSION_MS = 30_000;

interface Entry<S> {
  key: string;
  session: S;
  streams: number;
  idle: unknown;
}

/** Settings as a map key: the same settings whatever order their fields were set in. */
export function settingsKey(config: ClientConfig): string {
  return JSON.stringify(config, Object.keys(config).sort());
}

/** The live sessions by settings. */
export class SharedSessions<S extends SharedSession> {
  #options: SharedSessionsOptions<S>;
  #timers: Timers;
  #live = new Map<string, Entry<S>>();

  constructor(options: SharedSessionsOptions<S>) {
    this.#options = options;
    this.#timers = options.timers ?? globalTimers;
    options.signal.addEventListener("abort", () => this.#closeAll(), { once: true });
  }

  /** The live sessions. */
  sessions(): S[] {
    return [...this.#live.values()].map((e) => e.session);
  }

  /**
   * Starts the session for `config` ahead of any connection (the standalone startup). Settings
   * that cannot start one are only logged here: each connection is then refused with the reason.
   */
  prepare(config: ClientConfig): void {
    if (this.#options.signal.aborted) return;
    let entry: Entry<S>;
    try {
      entry = this.#entry(settingsKey(config), config);
    } catch (e) {
      this.#options.log?.(`no session opened at startup: ${(e as Error).message}`);
      return;
    }
    if (entry.streams === 0) this.#armIdle(entry);
  }

  /**
   * One more stream on the live session for `config`, starting one when there is none. A
   * session that cannot open a stream (it closed a moment ago) is dropped and replaced, once.
   */
  async open(config: ClientConfig): Promise<SessionStream<S>> {
    const key = settingsKey(config);
    for (let attempt = 0;; attempt++) {
      this.#options.signal.throwIfAborted();
      const entry = this.#entry(key, config);
      entry.streams++;
      this.#timers.clearTimeout(entry.idle);
      let stream: Conn;
      try {
        stream = await entry.session.openStream();
      } catch (e) {
        entry.streams--;
        this.#drop(entry);
        if (attempt > 0) throw e;
        continue;
      }
      let released = false;
      return {
        session: entry.session,
        stream,
        release: () => {
          if (released) return;
          released = true;
          stream.close();
          this.#release(entry);
        },
      };
    }
  }

  #entry(key: string, config: ClientConfig): Entry<S> {
    const found = this.#live.get(key);
    if (found && found.session.silentMs <= SILENT_SESSION_MS) return found;
    if (found) this.#retire(found);
    const session = this.#options.start(config);
    const entry: Entry<S> = { key, session, streams: 0, idle: undefined };
    this.#live.set(key, entry);
    session.closed.then(() => this.#drop(entry));
    return entry;
  }

  #drop(entry: Entry<S>): void {
    this.#timers.clearTimeout(entry.idle);
    if (this.#live.get(entry.key) === entry) this.#live.delete(entry.key);
    entry.session.close();
  }

  /** New connections start a new session; this one's streams go on until it closes. */
  #retire(entry: Entry<S>): void {
    this.#options.log?.(
      `${entry.session.name}: nothing from the server for ${
        Math.round(entry.session.silentMs / 1000)
      } s; new connections go to a new session (${entry.streams} streams stay)`,
    );
    this.#timers.clearTimeout(entry.idle);
    this.#live.delete(entry.key);
    if (entry.streams === 0) entry.session.close();
  }

  #release(entry: Entry<S>): void {
    entry.streams--;
    if (entry.streams > 0) return;
    if (this.#live.get(entry.key) === entry) this.#armIdle(entry);
    else entry.session.close();
  }

  #armIdle(entry: Entry<S>): void {
    this.#timers.clearTimeout(entry.idle);
    entry.idle = this.#timers.setTimeout(() => {
      this.#options.log?.(
        `${entry.session.name}: no stream for ${
          IDLE_SESSION_MS / 1000
        } s; closing it to free its proxy`,
      );
      this.#drop(entry);
    }, IDLE_SESSION_MS);
  }

  #closeAll(): void {
    for (const entry of this.#live.values()) {
      this.#timers.clearTimeout(entry.idle);
      entry.session.close();
    }
    this.#live.clear();
  }
}
