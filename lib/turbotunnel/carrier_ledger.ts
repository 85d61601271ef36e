/**
 * Which carrier of one client carried each KCP data segment the server sent, and which of
 * them the client acknowledged: what tells a frozen proxy from a live one when several carry
 * one session (docs/client.md "Multipath"). A frozen proxy's kernel keeps taking the server's
 * writes into its receive window, MBs of them, so the server's socket alone cannot tell.
 *
 * A carrier is *stuck* when its oldest data segment still unacknowledged was sent more than
 * max(0.5 s, 3 × its least RTT) ago and a segment sent later through another carrier was
 * acknowledged (a busy machine delays every path alike, so it alone makes nothing stuck). It
 * stays stuck until the client acknowledges a segment it carried; every {@link PROBE_MS} it
 * may take one batch to prove it is alive again, and when every carrier is stuck none is.
 * Only KCP headers are read (Snowflake's KCP has no crypt).
 *
 * @module
 */
import { CMD_ACK, CMD_PUSH, OVERHEAD, readU32 } from "../kcp/segment.ts";

// Implementation constants.
/**
 * How long a carrier's data may stay unacknowledged behind later data acknowledged elsewhere:
 * at least this, and 3 of its least RTTs (a bulk transfer's queues inflate the smoothed RTT
 * to seconds, during which a frozen proxy's window would take MBs; as the client's silence
 * rule).
 */
const STUCK_MS = 500;
const STUCK_RTTS = 3;
/** A stuck carrier may take one batch this often (a slow path whose credit went elsewhere). */
const PROBE_MS = 2000;
/** Segments tracked at most (~1 MB); beyond, the ledger starts over. */
const MAX_TRACKED = 16384;

interface Entry {
  sn: number;
  at: number;
}

interface Tally {
  /** Data segments this carrier sent, oldest first (some since acknowledged or resent). */
  sent: Entry[];
  head: number;
  /** When the newest of its segments that the client acknowledged was sent. */
  lastAckedSentAt: number;
  /** The least time to an acknowledgement of what it carried, ms (Infinity until measured). */
  rttMin: number;
  stuck: boolean;
  lastProbe: number;
}

/** Signed distance a - b of two u32 sequence numbers. */
const diff = (a: number, b: number) => (a - b) | 0;

/** One client's ledger: its carriers are named by any object (the carrier's stats). */
export class CarrierLedger {
  /** The latest transmission of each unacknowledged segment. */
  #latest = new Map<number, { tally: Tally; at: number }>();
  #tallies = new Map<object, Tally>();
  #una: number | undefined;

  /** `carrier` took `batch` (encapsulated KCP packets, docs/PROTOCOL.md §2) at `now`. */
  took(carrier: object, batch: Uint8Array, now: number): void {
    let t = this.#tallies.get(carrier);
    if (t === undefined) {
      t = {
        sent: [],
        head: 0,
        lastAckedSentAt: -Infinity,
        rttMin: Infinity,
        stuck: false,
        lastProbe: now,
      };
      this.#tallies.set(carrier, t);
    }
    for (let o = 0; o < batch.length;) {
      const first = batch[o++]!;
      let n = first & 0x3f;
      let more = (first & 0x40) !== 0;
      for (let i = 1; more && i < 3 && o < batch.length; i++) {
        const b = batch[o++]!;
        n = (n << 7) | (b & 0x7f);
        more = (b & 0x80) !== 0;
      }
      const end = Math.min(o + n, batch.length);
      if (first & 0x80) {
        for (let s = o; s + OVERHEAD <= end; s += OVERHEAD + readU32(batch, s + 20)) {
          if (batch[s + 4] === CMD_PUSH) this.#record(t, readU32(batch, s + 12), now);
        }
      }
      o = end;
    }
  }

  #record(t: Tally, sn: number, at: number): void {
    if (this.#latest.size >= MAX_TRACKED) {
      this.#latest.clear();
      for (const x of this.#tallies.values()) {
        x.sent = [];
        x.head = 0;
      }
    }
    this.#latest.set(sn, { tally: t, at });
    t.sent.push({ sn, at });
  }

  /** A KCP packet from the client: its acknowledgements (ACK segments and `una`). */
  acknowledged(packet: Uint8Array, now: number): void {
    for (let s = 0; s + OVERHEAD <= packet.length; s += OVERHEAD + readU32(packet, s + 20)) {
      const una = readU32(packet, s + 16);
      if (this.#una === undefined || diff(una, this.#una) > 0) this.#una = una;
      if (packet[s + 4] !== CMD_ACK) continue;
      const sn = readU32(packet, s + 12);
      const l = this.#latest.get(sn);
      if (l === undefined) continue;
      this.#latest.delete(sn);
      l.tally.rttMin = Math.min(l.tally.rttMin, now - l.at);
      this.#credit(l.tally, l.at, now);
    }
  }

  #credit(t: Tally, sentAt: number, now: number): void {
    if (sentAt > t.lastAckedSentAt) t.lastAckedSentAt = sentAt;
    t.stuck = false;
    t.lastProbe = now;
  }

  /**
   * Drops a carrier's oldest entries that were acknowledged, resent elsewhere or sent before
   * something of its own that was acknowledged; the oldest left, if any.
   */
  #settle(t: Tally, now: number): Entry | undefined {
    while (t.head < t.sent.length) {
      const e = t.sent[t.head]!;
      const l = this.#latest.get(e.sn);
      // Sent before something of its own that was acknowledged: lost, not a sign of a freeze.
      if (l !== undefined && l.tally === t && l.at === e.at && e.at > t.lastAckedSentAt) {
        if (this.#una === undefined || diff(e.sn, this.#una) >= 0) return e;
        this.#latest.delete(e.sn);
        this.#credit(t, e.at, now);
      }
      t.head++;
      if (t.head >= 1024 && t.head * 2 >= t.sent.length) {
        t.sent = t.sent.slice(t.head);
        t.head = 0;
      }
    }
    t.sent = [];
    t.head = 0;
    return undefined;
  }

  /** Whether `carrier` should get no batch now (see the module's rule); false if unknown. */
  stuck(carrier: object, now: number): boolean {
    const t = this.#tallies.get(carrier);
    if (t === undefined || this.#tallies.size < 2) return false;
    const oldest = this.#settle(t, now);
    const limit = Math.max(STUCK_MS, t.rttMin < Infinity ? STUCK_RTTS * t.rttMin : 0);
    if (!t.stuck && oldest !== undefined && now - oldest.at > limit) {
      for (const o of this.#tallies.values()) {
        if (o === t) continue;
        this.#settle(o, now);
        if (o.lastAckedSentAt > oldest.at) {
          t.stuck = true;
          break;
        }
      }
    }
    if (!t.stuck) return false;
    let others = false;
    for (const o of this.#tallies.values()) if (o !== t && !o.stuck) others = true;
    if (!others) return false;
    if (now - t.lastProbe >= PROBE_MS) {
      t.lastProbe = now;
      return false;
    }
    return true;
  }

  /** `carrier` ended. */
  forget(carrier: object): void {
    const t = this.#tallies.get(carrier);
    if (t === undefined) return;
    this.#tallies.delete(carrier);
    for (let i = t.head; i < t.sent.length; i++) {
      const l = this.#latest.get(t.sent[i]!.sn);
      if (l !== undefined && l.tally === t) this.#latest.delete(t.sent[i]!.sn);
    }
  }
}
