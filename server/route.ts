/**
 * Which KCP instance owns a ClientID (num-turbotunnel, docs/PROTOCOL.md §5): every carrier
 * of one client must reach the same instance, in whichever Worker the carrier landed.
 *
 * In one thread the instance is HMAC(key, ClientID) mod N ({@link instanceIndex}). With
 * Workers, the owner is the Worker where the client's first carrier landed, so that a client
 * with one carrier never crosses Workers: an {@link OwnerTable} in memory shared by all of
 * them records it until the owner has nothing left of the session.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import type { ClientID } from "../lib/turbotunnel/mod.ts";

function mac(key: Uint8Array, id: ClientID): Buffer {
  return createHmac("sha256", Buffer.from(key)).update(id.bytes).digest();
}

/** HMAC-SHA256(key, id) as a little-endian u64, mod `n`. */
export function instanceIndex(key: Uint8Array, id: ClientID, n: number): number {
  if (n === 1) return 0;
  return Number(mac(key, id).readBigUInt64LE(0) % BigInt(n));
}

// Layout of the table: buckets of SLOTS ClientIDs, each bucket behind its own lock. Words of
// a bucket: lock (0 free, 1 held), overflow count, then per slot: owner + 1 (0: free), the
// ClientID's two 32-bit halves, pins.
const SLOTS = 8;
const LOCK = 0;
const OVERFLOW = 1;
const HEADER = 2;
const OWNER = 0;
const LO = 1;
const HI = 2;
const PINS = 3;
const SLOT_WORDS = 4;
const BUCKET_WORDS = HEADER + SLOTS * SLOT_WORDS;
/** 2^15 buckets: 262,144 ClientIDs in 4.25 MiB, touched as clients come. */
const DEFAULT_BUCKETS = 1 << 15;

/** Memory for an {@link OwnerTable} of `buckets` (a power of two) × 8 ClientIDs, all zero. */
export function ownerTableMemory(buckets: number = DEFAULT_BUCKETS): SharedArrayBuffer {
  if (!Number.isInteger(Math.log2(buckets))) {
    throw new RangeError(`buckets ${buckets} must be a power of two`);
  }
  return new SharedArrayBuffer(buckets * BUCKET_WORDS * 4);
}

export interface OwnerTableOptions {
  /** This Worker's index. */
  index: number;
  /** Number of Workers. */
  workers: number;
  /** The HMAC key, the same in every Worker: it places ClientIDs in buckets and in the hash rule. */
  key: Uint8Array;
}

/**
 * One Worker's view of the table of owners, shared by all Workers (ClientID → Worker).
 *
 * - {@link route}: a carrier of a ClientID landed here. A ClientID in the table goes to its
 *   owner; one not in it is claimed for this Worker. Each bucket's lock makes finding and
 *   claiming one step, so two carriers of a new client landing at once on two Workers agree.
 * - A carrier routed to another Worker pins the entry until the owner has taken it
 *   ({@link opened}), so the owner cannot let the entry go while the carrier is on its way.
 * - {@link gone}: the owner has no send queue and no KCP session left for the ClientID; its
 *   entry goes (unless pinned: the pinned carrier brings state back and a later `gone` ends it).
 * - A full bucket falls back to the hash rule of {@link instanceIndex}. Every such ClientID
 *   counts in its bucket's overflow (held by the hash owner until `gone`, or pinned on its
 *   way there), and no ClientID is claimed in a bucket while its overflow count is not zero:
 *   so a ClientID served by the hash rule never also gets an entry naming another Worker.
 *
 * The table is consulted once per carrier and per session end, never per packet.
 */
export class OwnerTable {
  #w: Int32Array;
  #mask: number;
  #me: number;
  #workers: number;
  #key: Uint8Array;
  /** ClientIDs served here by the hash rule, each counted once in its bucket's overflow. */
  #held = new Set<string>();

  constructor(memory: SharedArrayBuffer, opts: OwnerTableOptions) {
    this.#w = new Int32Array(memory);
    this.#mask = this.#w.length / BUCKET_WORDS - 1;
    this.#me = opts.index;
    this.#workers = opts.workers;
    this.#key = opts.key;
  }

  /**
   * The owner of `id` for a carrier that landed here: the entry's; else this Worker, now its
   * owner; else (a full bucket) the hash rule's.
   */
  route(id: ClientID): number {
    const at = this.#locate(id);
    return this.#locked(at.bucket, () => {
      const w = this.#w;
      const slot = this.#find(at);
      if (slot >= 0) {
        const owner = w[slot + OWNER]! - 1;
        if (owner !== this.#me) w[slot + PINS]!++;
        return owner;
      }
      const free = w[at.bucket + OVERFLOW] === 0 ? this.#free(at.bucket) : -1;
      if (free >= 0) {
        w[free + LO] = at.lo;
        w[free + HI] = at.hi;
        w[free + PINS] = 0;
        w[free + OWNER] = this.#me + 1;
        return this.#me;
      }
      if (at.hashOwner !== this.#me) w[at.bucket + OVERFLOW]!++;
      else this.#hold(id, at.bucket);
      return at.hashOwner;
    });
  }

  /** The owner (this Worker) took a carrier that another Worker routed here. */
  opened(id: ClientID): void {
    const at = this.#locate(id);
    this.#locked(at.bucket, () => {
      const slot = this.#find(at);
      // Pinned on the way here, the entry is still this Worker's.
      if (slot >= 0) this.#w[slot + PINS]!--;
      else if (this.#held.has(id.hex)) this.#w[at.bucket + OVERFLOW]!--;
      else this.#held.add(id.hex); // the carrier's count in the overflow becomes this Worker's
    });
  }

  /** This Worker, `id`'s owner, has no state left for it. */
  gone(id: ClientID): void {
    const at = this.#locate(id);
    this.#locked(at.bucket, () => {
      const w = this.#w;
      if (this.#held.delete(id.hex)) {
        w[at.bucket + OVERFLOW]!--;
        return;
      }
      const slot = this.#find(at);
      if (slot >= 0 && w[slot + OWNER] === this.#me + 1 && w[slot + PINS] === 0) {
        w.fill(0, slot, slot + SLOT_WORDS);
      }
    });
  }

  #hold(id: ClientID, bucket: number): void {
    if (this.#held.has(id.hex)) return;
    this.#held.add(id.hex);
    this.#w[bucket + OVERFLOW]!++;
  }

  #locate(id: ClientID): { bucket: number; lo: number; hi: number; hashOwner: number } {
    const m = mac(this.#key, id);
    const b = new DataView(id.bytes.buffer);
    return {
      bucket: (m.readUInt32LE(8) & this.#mask) * BUCKET_WORDS,
      lo: b.getInt32(0, true),
      hi: b.getInt32(4, true),
      hashOwner: Number(m.readBigUInt64LE(0) % BigInt(this.#workers)),
    };
  }

  /** The word offset of `at`'s slot in its bucket, or -1. */
  #find(at: { bucket: number; lo: number; hi: number }): number {
    const w = this.#w;
    for (let s = at.bucket + HEADER; s < at.bucket + BUCKET_WORDS; s += SLOT_WORDS) {
      if (w[s + OWNER] !== 0 && w[s + LO] === at.lo && w[s + HI] === at.hi) return s;
    }
    return -1;
  }

  /** The word offset of a free slot in `bucket`, or -1. */
  #free(bucket: number): number {
    for (let s = bucket + HEADER; s < bucket + BUCKET_WORDS; s += SLOT_WORDS) {
      if (this.#w[s + OWNER] === 0) return s;
    }
    return -1;
  }

  /** Runs `f` holding `bucket`'s lock (held for a few reads and writes: waits are short). */
  #locked<T>(bucket: number, f: () => T): T {
    const w = this.#w;
    const lock = bucket + LOCK;
    while (Atomics.compareExchange(w, lock, 0, 1) !== 0) Atomics.wait(w, lock, 1);
    try {
      return f();
    } finally {
      Atomics.store(w, lock, 0);
      Atomics.notify(w, lock, 1);
    }
  }
}
