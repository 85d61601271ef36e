/**
 * What a multipath client knows about each of its proxies (docs/client.md "Multipath"),
 * measured from the KCP packets it sends and receives, without I/O and with an injected
 * clock:
 *
 * - **Delivery**: bytes received on a path, plus bytes of KCP data segments sent on it that
 *   the server acknowledged (an ACK or a cumulative `una` on any path credits the path the
 *   segment went out on), as a smoothed rate in bytes/s.
 * - **RTT**: from those acknowledgements (not for retransmitted segments, Karn's rule).
 * - **Scheduling** ({@link PathMonitor.pick}): weighted fair queueing by delivery rate, cut
 *   for a longer RTT than the best path's and for bytes already queued on the path. A path
 *   whose oldest unacknowledged segment waits longer than half its death deadline gets
 *   nothing.
 * - **Death** ({@link PathMonitor.dead}, called periodically): no KCP progress for
 *   max(3 × RTT, 1 s), meaning either data segments sent on the path stay unacknowledged while
 *   data sent later on another path was acknowledged, or (weaker evidence, so twice as long, and at least twice its
 *   longest recent pause) nothing arrives on the path while the others still receive plenty
 *   in the second half of that time (so the end of a download kills nothing).
 * - **Whole-session silence** ({@link PathMonitor.allSilent}): every path without progress for
 *   max(3 × its least RTT, 1 s) while the session still waits for something (its data segments
 *   unacknowledged, or a hole in what the server sent): the owner then dials a spare path.
 *
 * @module
 */
import { CMD_ACK, CMD_PUSH, decodePacket, type Segment } from "../kcp/segment.ts";

/** Tunables of {@link PathMonitor}; the defaults are the rule. */
export interface PathMonitorOptions {
  /** Death deadline floor. Default 1000 ms. */
  minDeadMs?: number;
  /** Death deadline in RTTs. Default 3. */
  rttFactor?: number;
  /**
   * Packets the other paths must receive while a path receives nothing before its silence
   * counts as a stall (the server hands batches to every live carrier in turn); half of them
   * in the second half of the deadline. Default 64.
   */
  silentPackets?: number;
  /** Rate assumed for a path without measurements while no path has any. Default 128 KiB/s. */
  initialRate?: number;
}

/** One path's measurements. */
export interface PathState {
  readonly id: number;
  readonly name: string;
  readonly since: number;
  /** Smoothed RTT in ms; undefined until the first sample. */
  srtt: number | undefined;
  /** The least RTT sample in ms (the path without queueing); undefined until the first. */
  rttMin: number | undefined;
  /** Smoothed delivery rate in bytes/s; 0 until measured. */
  rate: number;
  /** Last KCP progress on the path: a receive, or an acknowledgement of what it sent. */
  lastProgress: number;
  lastReceive: number;
  /** The longest recent gap between two receives (decays with a 10 s time constant). */
  gapMax: number;
  /** When the newest acknowledged data segment sent on the path was sent. */
  lastAckedSentAt: number;
  /** Data segments sent on the path and not yet acknowledged. */
  pending: number;
  /**
   * Since when the path owes an acknowledgement: its first data segment after its last
   * progress (its last progress, if segments were still pending then); undefined if none.
   */
  owedSince: number | undefined;
  bytesIn: number;
  bytesOut: number;
  /** Bytes waiting in the path's own send queue (kept up to date by the owner). */
  queued: number;
  /** Fair-queueing finish time of the last packet scheduled here. */
  vt: number;
  /** Received packets over all paths at this path's last receive. */
  receivedMark: number;
  /** Received packets over all paths when its silence first passed half its deadline. */
  silentMark: number | undefined;
  windowStart: number;
  windowBytes: number;
}

interface InFlight {
  path: number;
  sentAt: number;
  bytes: number;
  resent: boolean;
}

const RATE_WINDOW_MS = 500;
const GAP_DECAY_MS = 10_000;
/** Segments tracked at most (a server that never acknowledges must not grow the map). */
const MAX_IN_FLIGHT = 1 << 16;
/** The least weight a live, non-stalled path keeps, so it still gets probes. */
const MIN_RATE = 8 * 1024;

/** Per-path delivery, RTT, scheduling and death for one multipath client. */
export class PathMonitor {
  #paths = new Map<number, PathState>();
  #inflight = new Map<number, InFlight>();
  #received = 0;
  /** The server's next data segment number after all received so far without a hole. */
  #rcvNext = 0;
  /** Data segment numbers received beyond a hole. */
  #rcvAbove = new Set<number>();
  /** Since when there has been a hole in the server's data segments. */
  #holeSince: number | undefined;
  /** The latest receive or acknowledgement on any path. */
  #progressAt = -Infinity;
  #nextId = 1;
  #minDeadMs: number;
  #rttFactor: number;
  #silentPackets: number;
  #initialRate: number;

  constructor(options: PathMonitorOptions = {}) {
    this.#minDeadMs = options.minDeadMs ?? 1000;
    this.#rttFactor = options.rttFactor ?? 3;
    this.#silentPackets = options.silentPackets ?? 64;
    this.#initialRate = options.initialRate ?? 128 * 1024;
  }

  get size(): number {
    return this.#paths.size;
  }

  paths(): PathState[] {
    return [...this.#paths.values()];
  }

  get(id: number): PathState | undefined {
    return this.#paths.get(id);
  }

  /** A new path; returns its id. */
  add(name: string, now: number): number {
    const id = this.#nextId++;
    const vt = Math.min(...[...this.#paths.values()].map((p) => p.vt), Infinity);
    this.#paths.set(id, {
      id,
      name,
      since: now,
      srtt: undefined,
      rttMin: undefined,
      rate: 0,
      lastProgress: now,
      lastReceive: now,
      gapMax: 0,
      lastAckedSentAt: -Infinity,
      pending: 0,
      owedSince: undefined,
      bytesIn: 0,
      bytesOut: 0,
      queued: 0,
      vt: Number.isFinite(vt) ? vt : 0,
      receivedMark: this.#received,
      silentMark: undefined,
      windowStart: now,
      windowBytes: 0,
    });
    return id;
  }

  /**
   * Forgets a path; its unacknowledged segments stay unassigned until KCP resends them. The
   * others get a fresh deadline: acknowledgements of their segments may have been lost with
   * it, and the cumulative `una` waits for KCP to resend what it lost.
   */
  remove(id: number, now: number): void {
    this.#paths.delete(id);
    for (const f of this.#inflight.values()) if (f.path === id) f.path = 0;
    for (const p of this.#paths.values()) if (p.owedSince !== undefined) p.owedSince = now;
  }

  /** The death deadline of a path: max(3 × RTT, 1 s). */
  deadline(p: PathState): number {
    return Math.max(this.#rttFactor * (p.srtt ?? 0), this.#minDeadMs);
  }

  /** `packet` (one KCP datagram) was queued on path `id`. */
  sent(id: number, packet: Uint8Array, now: number): void {
    const p = this.#paths.get(id);
    if (!p) return;
    p.bytesOut += packet.length;
    for (const s of segments(packet)) {
      if (s.cmd !== CMD_PUSH) continue;
      if (this.#inflight.size >= MAX_IN_FLIGHT) this.#forgetInFlight();
      const old = this.#inflight.get(s.sn);
      if (old && old.path !== 0) this.#unpend(old.path);
      this.#inflight.set(s.sn, {
        path: id,
        sentAt: now,
        bytes: s.data.length + 24,
        resent: old !== undefined,
      });
      p.pending++;
      p.owedSince ??= now;
    }
  }

  /** `packet` (one KCP datagram) arrived on path `id`. */
  received(id: number, packet: Uint8Array, now: number): void {
    this.#received++;
    const p = this.#paths.get(id);
    if (p) {
      p.bytesIn += packet.length;
      const gap = now - p.lastReceive;
      p.gapMax = Math.max(gap, p.gapMax * Math.exp(-gap / GAP_DECAY_MS));
      p.lastReceive = p.lastProgress = this.#progressAt = now;
      p.receivedMark = this.#received;
      p.silentMark = undefined;
      this.#credit(p, packet.length, now);
    }
    for (const s of segments(packet)) {
      if (s.cmd === CMD_ACK) this.#acked(s.sn, now);
      if (s.cmd === CMD_PUSH) this.#arrived(s.sn, now);
      this.#ackedBelow(s.una, now);
    }
  }

  /** Tracks holes in the server's data segments (what the session's reader waits for). */
  #arrived(sn: number, now: number): void {
    const ahead = (sn - this.#rcvNext) | 0;
    if (ahead < 0) return;
    if (ahead > 0) {
      if (this.#rcvAbove.size >= MAX_IN_FLIGHT) this.#rcvAbove.clear();
      this.#rcvAbove.add(sn);
      this.#holeSince ??= now;
      return;
    }
    this.#rcvNext = (this.#rcvNext + 1) >>> 0;
    while (this.#rcvAbove.delete(this.#rcvNext)) this.#rcvNext = (this.#rcvNext + 1) >>> 0;
    // The hole filled; one further on dates from now.
    this.#holeSince = this.#rcvAbove.size > 0 ? now : undefined;
  }

  #acked(sn: number, now: number): void {
    const f = this.#inflight.get(sn);
    if (!f) return;
    this.#inflight.delete(sn);
    const p = this.#paths.get(f.path);
    if (!p) return;
    this.#unpend(f.path);
    p.lastProgress = this.#progressAt = now;
    p.lastAckedSentAt = Math.max(p.lastAckedSentAt, f.sentAt);
    p.owedSince = p.pending > 0 ? now : undefined;
    this.#credit(p, f.bytes, now);
    if (!f.resent) {
      const sample = Math.max(1, now - f.sentAt);
      p.srtt = p.srtt === undefined ? sample : p.srtt + (sample - p.srtt) / 8;
      p.rttMin = Math.min(p.rttMin ?? Infinity, sample);
    }
  }

  #ackedBelow(una: number, now: number): void {
    for (const sn of this.#inflight.keys()) {
      if (((sn - una) | 0) >= 0) break;
      this.#acked(sn, now);
    }
  }

  #forgetInFlight(): void {
    this.#inflight.clear();
    for (const p of this.#paths.values()) {
      p.pending = 0;
      p.owedSince = undefined;
    }
  }

  #unpend(id: number): void {
    const p = this.#paths.get(id);
    if (p && p.pending > 0) p.pending--;
  }

  #credit(p: PathState, bytes: number, now: number): void {
    p.windowBytes += bytes;
    this.#roll(p, now);
  }

  #roll(p: PathState, now: number): void {
    const span = now - p.windowStart;
    if (span < RATE_WINDOW_MS) return;
    const sample = (p.windowBytes * 1000) / span;
    p.rate = p.rate === 0 ? sample : (p.rate + sample) / 2;
    p.windowStart = now;
    p.windowBytes = 0;
  }

  /** How long the path has owed an acknowledgement without progress. */
  #waiting(p: PathState, now: number): number {
    return p.owedSince === undefined ? 0 : now - p.owedSince;
  }

  /** Whether the path gets no new packets now (it is suspected of stalling). */
  stalled(p: PathState, now: number): boolean {
    return this.#waiting(p, now) > this.deadline(p) / 2;
  }

  /** The weight the scheduler gives a path now (bytes/s). */
  weight(p: PathState, now: number): number {
    this.#roll(p, now);
    const measured = [...this.#paths.values()].filter((q) => q.rate > 0);
    const mean = measured.length > 0
      ? measured.reduce((n, q) => n + q.rate, 0) / measured.length
      : this.#initialRate;
    const rate = p.rate > 0 ? Math.max(p.rate, MIN_RATE) : mean;
    const rtts = [...this.#paths.values()].map((q) => q.srtt).filter((r) => r !== undefined);
    const best = Math.min(...rtts);
    const rttCut = p.srtt === undefined ? 1 : Math.min(1, Math.max(0.25, best / p.srtt));
    return rate * rttCut;
  }

  /**
   * The path for the next `bytes`: the earliest fair-queueing finish time among paths not
   * stalled (all of them if every one is), counting what already waits in its queue.
   * Undefined when there is no path.
   */
  pick(bytes: number, now: number): number | undefined {
    const all = [...this.#paths.values()];
    if (all.length === 0) return undefined;
    const fresh = all.filter((p) => !this.stalled(p, now));
    const candidates = fresh.length > 0 ? fresh : all;
    const start = Math.min(...candidates.map((p) => p.vt));
    let best: PathState | undefined;
    let bestFinish = Infinity;
    for (const p of candidates) {
      const w = this.weight(p, now);
      const finish = Math.max(p.vt, start) + (bytes + p.queued) / w;
      if (finish < bestFinish) {
        bestFinish = finish;
        best = p;
      }
    }
    best!.vt = Math.max(best!.vt, start) + bytes / this.weight(best!, now);
    return best!.id;
  }

  /**
   * Paths with no KCP progress for their deadline, with the reason: data sent on them stays
   * unacknowledged while data sent later on another path was acknowledged, or they receive nothing while the others
   * received at least `silentPackets`.
   */
  dead(now: number): { id: number; reason: string; silentMs: number }[] {
    const out: { id: number; reason: string; silentMs: number }[] = [];
    const all = [...this.#paths.values()];
    for (const p of all) {
      const limit = this.deadline(p);
      const waiting = this.#waiting(p, now);
      // The server acknowledged data sent later on another path: it is alive and reachable,
      // so what this path owes is lost with it (a busy machine delays every path alike).
      const othersProgressed = all.some((q) =>
        q !== p && p.owedSince !== undefined && q.lastAckedSentAt > p.owedSince
      );
      if (waiting > limit && othersProgressed) {
        out.push({
          id: p.id,
          reason: `data unacknowledged for ${fmtMs(waiting)}`,
          silentMs: now - p.lastProgress,
        });
        continue;
      }
      // Silence is weaker evidence than unacknowledged data: a proxy that is slow but alive
      // (a busy machine, a congested channel) pauses now and then, and the server may have
      // nothing for it. It counts after twice the deadline, and twice the path's longest
      // recent pause.
      const silentLimit = 2 * Math.max(limit, p.gapMax);
      const silent = now - p.lastReceive;
      if (silent > silentLimit / 2) p.silentMark ??= this.#received;
      const othersLately = this.#received - (p.silentMark ?? this.#received);
      if (silent > silentLimit && othersLately >= this.#silentPackets / 2) {
        out.push({
          id: p.id,
          reason: `nothing received for ${fmtMs(silent)} while the other proxies received ${
            this.#received - p.receivedMark
          } packets`,
          silentMs: now - p.lastProgress,
        });
      }
    }
    return out;
  }

  /**
   * When every path has made no progress for max(3 × its least RTT, 1 s) while the session has
   * waited that long for something (data segments of ours unacknowledged, a hole in the
   * server's, or, as the owner knows from the layer above, the rest of a message), how long the session has been silent and what it waits for; undefined otherwise
   * (no path, progress within the deadline, or an idle session). The least RTT, not the
   * smoothed one: queueing delays arrivals but does not stop them, and a bulk transfer's
   * queues inflate the smoothed RTT to seconds.
   */
  allSilent(
    now: number,
    midMessage = false,
  ): { silentMs: number; waitingFor: string } | undefined {
    const all = [...this.#paths.values()];
    const deadline = (p: PathState) => Math.max(this.#rttFactor * (p.rttMin ?? 0), this.#minDeadMs);
    if (all.length === 0 || all.some((p) => now - p.lastProgress <= deadline(p))) {
      return undefined;
    }
    const limit = Math.max(...all.map(deadline));
    let oldestSent = Infinity;
    for (const f of this.#inflight.values()) oldestSent = Math.min(oldestSent, f.sentAt);
    const waitingFor = now - oldestSent > limit
      ? `${this.#inflight.size} data segments unacknowledged`
      : this.#holeSince !== undefined && now - this.#holeSince > limit
      ? `a hole before ${this.#rcvAbove.size} received data segments`
      : midMessage
      ? "the rest of a message"
      : undefined;
    if (waitingFor === undefined) return undefined;
    return {
      silentMs: now - Math.max(this.#progressAt, ...all.map((p) => p.since)),
      waitingFor,
    };
  }

  /** The latest KCP progress on any path (a new path alone is none). */
  get lastProgress(): number {
    return this.#progressAt;
  }
}

function segments(packet: Uint8Array): Segment[] {
  try {
    return decodePacket(packet);
  } catch {
    return [];
  }
}

function fmtMs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
