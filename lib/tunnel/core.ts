/**
 * What the client and the server cores share: the cipher, limits, clock and
 * counters, the UDP and TUN read loops and the timer, and the DATA path
 * (session lifetime, open + replay check, seal + counting).
 *
 * @module
 */

import type { Addr, PacketConn, PacketScreen } from "../net/types.ts";
import type { TunnelCipher, TunnelCipherKind } from "./cipher.ts";
import { TUNNEL_SYSTEM_CLOCK, type TunnelClock } from "./clock.ts";
import { ignore, readLoop, resolveCipher } from "./common.ts";
import type { TunnelSessionKeys } from "./handshake.ts";
import { HANDSHAKE_QUEUE_SIZE, TunnelHandshakeQueue } from "./handshake_queue.ts";
import { messageType, MSG_DATA } from "./messages.ts";
import { TUNNEL_REPLAY_WINDOW } from "./replay.ts";
import { TunnelSession } from "./session.ts";
import {
  newCounters,
  newDrops,
  type TunDevice,
  type TunnelEvent,
  type TunnelLimits,
  tunnelLimits,
} from "./types.ts";

/** The options the client and the server have in common. */
export interface TunnelCoreOptions {
  tun: TunDevice;
  bind: PacketConn;
  replayWindow?: number;
  limits?: Partial<TunnelLimits>;
  clock?: TunnelClock;
  /** A cipher, or which one to load ("auto": FFI libsodium, else wasm). */
  cipher?: TunnelCipher | TunnelCipherKind;
  log?: (line: string) => void;
  onEvent?: (event: TunnelEvent) => void;
  /** Timer period; 0 disables the timer (tests then call `tick()`). */
  tickMs?: number;
}

/** What the owning client or server does with what the core reads. */
export interface TunnelCoreHandlers {
  /**
   * One UDP datagram, with the loaded cipher; may throw (counted as malformed).
   * `priority`: it came through the handshake queue's priority lane.
   */
  dispatch(cipher: TunnelCipher, data: Uint8Array, from: Addr, priority: boolean): void;
  /** True for a handshake-class packet that likely comes from a legitimate peer (cheap). */
  likelyPeer?(data: Uint8Array, from: Addr): boolean;
  /**
   * How many handshake-class packets of no likely peer are worth handling now
   * (beyond them, each would only be dropped: under load with the cookie-reply
   * budget spent); absent: no limit but the queue's.
   */
  handshakeRoom?(): number;
  fromTun(packet: Uint8Array): void;
  tick(): void;
}

export class TunnelCore {
  readonly limits: TunnelLimits;
  readonly clock: TunnelClock;
  readonly counters = newCounters();
  readonly drops = newDrops();
  readonly log: (line: string) => void;
  readonly event: (e: TunnelEvent) => void;
  #name: string;
  #o: TunnelCoreOptions;
  #h: TunnelCoreHandlers;
  #cipher: TunnelCipher | null;
  #replayWindow: number;
  #ac = new AbortController();
  #startCalled = false;
  #running = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #loops: Promise<unknown> = Promise.resolve();
  #handshakes = new TunnelHandshakeQueue((data, from, priority) =>
    this.receive(data, from, priority)
  );
  #underLoadUntil = 0;

  /** `name` ("client", "server") prefixes the log lines of the loops. */
  constructor(name: string, o: TunnelCoreOptions, h: TunnelCoreHandlers) {
    this.#name = name;
    this.#o = o;
    this.#h = h;
    this.limits = tunnelLimits(o.limits);
    this.clock = o.clock ?? TUNNEL_SYSTEM_CLOCK;
    this.#cipher = o.cipher && typeof o.cipher === "object" ? o.cipher : null;
    this.#replayWindow = o.replayWindow ?? TUNNEL_REPLAY_WINDOW;
    this.log = o.log ?? ignore;
    this.event = o.onEvent ?? ignore;
  }

  /** The cipher, null until {@link start} has loaded it. */
  get cipher(): TunnelCipher | null {
    return this.#cipher;
  }

  /** True from the end of {@link start} until {@link stop}. */
  get running(): boolean {
    return this.#running;
  }

  /** Loads the cipher (unless given) and starts the UDP and TUN read loops and the timer. */
  async start(): Promise<void> {
    if (this.#ac.signal.aborted || this.#startCalled) {
      throw new Error("a tunnel core starts once; make a new one after stop()");
    }
    this.#startCalled = true;
    if (!this.#cipher) this.#cipher = await resolveCipher(this.#o.cipher, this.log);
    this.#running = true;
    const bind = this.#o.bind as PacketConn & { screen?: PacketScreen | null };
    if ("screen" in bind) bind.screen = this.#screen;
    this.#loops = Promise.allSettled([this.#udpLoop(), this.#tunLoop()]);
    const tickMs = this.#o.tickMs ?? 250;
    if (tickMs > 0) this.#timer = setInterval(() => this.#h.tick(), tickMs);
  }

  /** Stops the loops and the timer and closes the bind and the TUN device. */
  async stop(): Promise<void> {
    this.#ac.abort();
    this.#running = false;
    clearInterval(this.#timer);
    this.#handshakes.clear();
    this.#o.bind.close();
    this.#o.tun.close();
    await this.#loops;
  }

  #udpLoop(): Promise<void> {
    // No abort signal per read (it would cost a promise race per packet): stop() closes the bind.
    return readLoop(
      () => this.#o.bind.readFrom(),
      (p) => this.#classify(p.data, p.addr),
      this.#ac.signal,
      (m) => this.log(`${this.#name}: UDP ${m}`),
    );
  }

  #tunLoop(): Promise<void> {
    const signal = this.#ac.signal;
    return readLoop(
      () => this.#o.tun.read(signal),
      (p) => this.#h.fromTun(p),
      signal,
      (m) => this.log(`${this.#name}: TUN ${m}`),
    );
  }

  /**
   * The first look at a datagram, while it still sits in the socket's receive
   * batch (nothing copied or allocated yet): data passes; a handshake-class
   * packet passes only while its lane of the handshake queue has room and,
   * unless it likely comes from a peer, while the server would still answer it
   * (`handshakeRoom`), so a flood costs a type byte and a counter per packet.
   */
  #screen = (data: Uint8Array, source: () => Addr): boolean => {
    if (messageType(data) === MSG_DATA) return true;
    const worth = this.#handshakes.length < (this.#h.handshakeRoom?.() ?? Infinity);
    if (worth && this.#handshakes.hasRoom(false)) return true;
    if (this.#handshakes.hasRoom(true) && (this.#h.likelyPeer?.(data, source()) ?? false)) {
      return true;
    }
    if (worth) this.drops.handshakeQueue++;
    else this.drops.cookieBudget++;
    // Shedding a flood is load: stay under load while it lasts.
    this.markUnderLoad(this.clock.now());
    return false;
  };

  /**
   * What the read loop does with each datagram, before any cryptography: data
   * is handled at once, anything else (handshake class) waits in the bounded
   * queue, or is dropped and counted when it is full.
   */
  #classify(data: Uint8Array, from: Addr): void {
    if (messageType(data) === MSG_DATA) {
      this.receive(data, from);
    } else if (!this.#handshakes.push(data, from, this.#h.likelyPeer?.(data, from) ?? false)) {
      this.drops.handshakeQueue++;
    }
  }

  /**
   * True while handshakes are under load: the queue is an eighth full (now or
   * within the last second), or {@link markUnderLoad} was called in that time.
   */
  underLoad(now: number): boolean {
    if (this.#handshakes.length >= HANDSHAKE_QUEUE_SIZE / 8) this.markUnderLoad(now);
    return now < this.#underLoadUntil;
  }

  /** Puts the core under load for the next second. */
  markUnderLoad(now: number): void {
    this.#underLoadUntil = now + 1000;
  }

  /** Handles one UDP datagram. Never throws: a packet that raises is counted and dropped. */
  receive(data: Uint8Array, from: Addr, priority = false): void {
    const cipher = this.#cipher;
    if (!cipher) return;
    try {
      this.#h.dispatch(cipher, data, from, priority);
    } catch (e) {
      this.drops.malformed++;
      this.log(`${this.#name}: dropped a packet that raised ${(e as Error).message}`);
    }
  }

  send(data: Uint8Array, to: Addr): void {
    this.#o.bind.writeTo(data, to).catch(ignore);
  }

  /** A session of freshly derived keys, with this core's replay window and message limit. */
  session(cipher: TunnelCipher, keys: TunnelSessionKeys, now: number): TunnelSession {
    return new TunnelSession(
      cipher,
      keys,
      now,
      this.#replayWindow,
      this.limits.rejectAfterMessages,
    );
  }

  /** True while `s` may send and receive (younger than rejectAfterMs). */
  alive(s: TunnelSession | null | undefined, now: number): s is TunnelSession {
    return !!s && now - s.createdAt < this.limits.rejectAfterMs;
  }

  /** True once `s` has outlived rejectAfterMs (the timers then drop it). */
  expired(s: TunnelSession | null, now: number): boolean {
    return s !== null && now - s.createdAt >= this.limits.rejectAfterMs;
  }

  /**
   * The plaintext of DATA message `data` for `s` (the session its receiver
   * index names, if any), or null with the drop counted: no live session or a
   * failed authentication (auth), a counter seen before (replay).
   */
  open(s: TunnelSession | null | undefined, data: Uint8Array, now: number): Uint8Array | null {
    if (!this.alive(s, now)) {
      this.drops.auth++;
      return null;
    }
    const plain = s.open(data);
    if (!plain) {
      this.drops.auth++;
      return null;
    }
    if (!s.replay.check(TunnelSession.counterOf(data))) {
      this.drops.replay++;
      return null;
    }
    return plain;
  }

  /** Counts an accepted DATA message; true when it is a keepalive (nothing to deliver). */
  received(data: Uint8Array, plain: Uint8Array): boolean {
    this.counters.bytesIn += data.length;
    this.counters.packetsIn++;
    if (plain.length > 0) return false;
    this.counters.keepalivesIn++;
    return true;
  }

  /** `plain` sealed on `s` and counted, or null (counted as noroute) once `s` is spent. */
  seal(s: TunnelSession | null, plain: Uint8Array): Uint8Array | null {
    const msg = s?.seal(plain);
    if (!msg) {
      this.drops.noroute++;
      return null;
    }
    this.counters.bytesOut += msg.length;
    this.counters.packetsOut++;
    if (plain.length === 0) this.counters.keepalivesOut++;
    return msg;
  }
}
