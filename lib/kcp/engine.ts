/**
 * The KCP state machine, wire-compatible with ikcp / xtaci/kcp-go v5. It does
 * no I/O: packets come in through {@link KcpEngine.input}, go out through the
 * `output` callback, and the clock is passed in.
 *
 * @module
 */
import {
  CMD_ACK,
  CMD_PUSH,
  CMD_WASK,
  CMD_WINS,
  encodeHeader,
  OVERHEAD,
  readU32,
} from "./segment.ts";
import { Ring, SnSlots } from "./ring.ts";
import { packetSlab } from "../net/slab.ts";
import { segmentPool } from "./segment_pool.ts";

// Spec constants (ikcp / kcp-go).
export const RTO_NDL = 30;
export const RTO_MIN = 100;
export const RTO_DEF = 200;
export const RTO_MAX = 60000;
export const ASK_SEND = 1;
export const ASK_TELL = 2;
export const WND_SND = 32;
export const WND_RCV = 128;
export const MTU_DEF = 1400;
export const ACK_FAST = 3;
export const INTERVAL = 100;
export const DEADLINK = 20;
export const THRESH_INIT = 2;
export const THRESH_MIN = 2;
export const PROBE_INIT = 7000;
export const PROBE_LIMIT = 120000;

// Implementation constants of the sending limiter (not part of the protocol).
/** Segments in flight before the first acknowledgement. */
const LIMIT_INIT = 64;
/** The limit never drops below this. */
const LIMIT_MIN = 16;
/** Multiplicative cut on a loss event (at most once per RTT). */
const LIMIT_CUT = 0.85;
/** Growth per delivered segment after the first loss: ~6% per RTT. */
const LIMIT_GROWTH = 1 / 16;
/**
 * A loss never cuts the limit below this many times the measured bandwidth-delay
 * product (best recent delivery rate × minimum RTT): random loss on a fast path
 * is not congestion, and a Reno-style cut on every lossy RTT would collapse the
 * limit (10% loss: 0.2 MB/s). At a real bottleneck the delivery rate is the
 * bottleneck's, so the queue stays near one BDP.
 */
const LIMIT_BDP_FLOOR = 2;
/**
 * A queue is forming when the smallest RTT sample of a round of
 * acknowledgements exceeds the minimum RTT by this share, clamped to
 * [QUEUE_RISE_MIN_MS, QUEUE_RISE_MAX_MS]: slow start ends (HyStart-like) and
 * the limit stops growing until the queue drains, before it overflows (on
 * loopback: the receiver's socket buffer). The smallest sample of a round
 * ignores the spikes of a busy event loop.
 */
const QUEUE_RISE = 1 / 8;
const QUEUE_RISE_MIN_MS = 4;
const QUEUE_RISE_MAX_MS = 16;
/** RTT samples a round needs before it may tell a queue. */
const ROUND_SAMPLES = 8;
/** Per-RTT decay of the best delivery rate, so it follows a path that slows down. */
const RATE_DECAY = 0.95;
/** How long a minimum RTT sample stays valid. */
const MIN_RTT_WINDOW_MS = 10_000;
/** Extra wait beyond srtt before a hole behind acknowledged segments counts as lost. */
const RACK_REORDER_MS = 5;
/**
 * Per-round decay of the reordering window learnt from spurious retransmissions and of the
 * largest recent RTT. Paths of different delay (one session striped over several proxies,
 * docs/client.md "Multipath") reorder by their delay difference and interleave their RTT
 * samples; both follow the largest seen, for tens of rounds.
 */
const REORDER_DECAY = 63 / 64;
/** Share of the limit that RTO retransmissions may use in one flush. */
const RETRANS_SHARE = 0.25;
/**
 * Silence from the peer at least this long (and at least two RTOs) while a
 * retransmitted segment waits for its acknowledgement is an outage: the next
 * packet from the peer restarts the retransmission timers (see resume).
 */
const OUTAGE_GAP_MS = 1000;
/**
 * A flush this much later than an interval after the engine last ran (flush or
 * input) follows a stall of this process (GC, a busy CPU): acknowledgements may
 * be waiting unread in the socket, so RTO retransmissions wait one more tick
 * (never two ticks in a row, so a loop that is always late still retransmits).
 */
const STALL_SLACK_MS = 20;

/** Signed distance a - b between two u32 sequence numbers or timestamps. */
function diff(a: number, b: number): number {
  return (a - b) | 0;
}

interface SendSegment {
  sn: number;
  frg: number;
  ts: number;
  resendts: number;
  rto: number;
  fastack: number;
  xmit: number;
  acked: boolean;
  /** Capacity buffer; `len` bytes are used (stream mode appends to the last one). */
  data: Uint8Array;
  len: number;
}

interface RecvSegment {
  sn: number;
  frg: number;
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Counters for tests, logs and benchmarks. */
export interface KcpStats {
  /** PUSH segments sent for the first time. */
  segsSent: number;
  /** Retransmissions after an RTO expired. */
  rtoRetrans: number;
  /** Fast retransmissions (resend > 0). */
  fastRetrans: number;
  /** PUSH segments received that were already held or delivered. */
  dupSegs: number;
  /** Packets output. */
  packetsOut: number;
  /** Outstanding segments resent when the path came back (setPathUp or the peer heard again). */
  resumeRetrans: number;
  /**
   * Retransmissions shown unnecessary, because the acknowledgement echoed an earlier
   * transmission (a lower bound: an acknowledgement covered by `una` tells nothing).
   */
  spuriousRetrans: number;
}

/**
 * One KCP endpoint. `output(packet)` receives a buffer of its own (slab memory,
 * see lib/net/slab.ts) that the engine never touches again. Its first
 * `reserved` bytes are left for the caller's framing (crypt header).
 */
export class KcpEngine {
  readonly conv: number;
  #output: (packet: Uint8Array) => void;
  #reserved: number;
  #mtu = MTU_DEF;
  #mss: number;
  /** Where flush() builds the next packet: slab memory reserved for one MTU (EMPTY between flushes). */
  #buffer: Uint8Array = EMPTY;
  #dead = false;

  #sndUna = 0;
  #sndNxt = 0;
  #rcvNxt = 0;
  #ssthresh = THRESH_INIT;
  #rxRttvar = 0;
  #rxSrtt = 0;
  #rxRto = RTO_DEF;
  #rxMinrto = RTO_MIN;
  #sndWnd = WND_SND;
  #rcvWnd = WND_RCV;
  #rmtWnd = WND_RCV;
  #cwnd = 0;
  #incr = 0;
  #probe = 0;
  #current = 0;
  #interval = INTERVAL;
  #tsFlush = INTERVAL;
  #nodelay = 0;
  #updated = false;
  #tsProbe = 0;
  #probeWait = 0;
  #deadLink = DEADLINK;
  #fastresend = 0;
  #nocwnd = false;
  /** Stream mode: no message boundaries; writes are coalesced into full segments. */
  stream = false;

  #sndQueue = new Ring<SendSegment>();
  #sndBuf = new Ring<SendSegment>();
  #rcvQueue = new Ring<RecvSegment>();
  #rcvBuf = new SnSlots<RecvSegment>();
  #acks = new Uint32Array(64);
  #ackCount = 0;

  // Retransmission scheduling (local, not on the wire): the earliest resendts
  // among transmitted segments, so most flushes only look at new segments.
  #nextResend = 0;
  // Sending limiter (local, not on the wire; see smartSend): segments in flight
  // are capped by #limit, which grows with deliveries and is cut on loss.
  #smart = true;
  #limit = LIMIT_INIT;
  #limitThresh = Infinity;
  #lastCut = 0;
  #ackedInBuf = 0;
  #delivered = 0;
  // Delivery rate and minimum RTT, for the limiter's BDP floor.
  #rateStart = 0;
  #rateCount = 0;
  #maxRate = 0;
  #minRtt = 0;
  #minRttAt = 0;
  // Slow-start exit: the smallest RTT sample of the current round (until una passes roundEnd).
  #roundEnd = 0;
  #roundMinRtt = Infinity;
  #roundSamples = 0;
  #queueing = false;
  // Time-based loss detection (RACK-like): the newest send time that was acknowledged.
  #rackTs = 0;
  #rackSeen = false;
  /** How late beyond srtt an acknowledgement may come before the hole counts as lost (ms). */
  #reorderWnd = RACK_REORDER_MS;
  /**
   * The largest recent RTT sample, decaying by {@link REORDER_DECAY} per round: with smart
   * sending neither the RTO nor the time-based loss detection fires before it, as samples of
   * paths with different delays interleave.
   */
  #rttMax = 0;
  /**
   * When the path last came back from an outage: an acknowledgement echoing an earlier send
   * time measured the outage, not a path, so it feeds neither the RTT estimates nor the
   * reordering window.
   */
  #outageEnd: number | null = null;
  /** The limit before the last cut, restored when that cut's loss proves spurious. */
  #limitBeforeCut = 0;
  #hasResend = false;
  #fastackHit = false;
  #windowSlid = false;
  // Path state (local): while down nothing but acknowledgements is sent, and no
  // timer advances; #resume makes the next flush resend what is outstanding.
  #pathUp = true;
  #resume = false;
  #lastInput = 0;
  #inputSeen = false;
  /** When the engine last ran (flush or input), to tell a stall from a timeout. */
  #lastActive = 0;
  #rtoDeferred = false;

  readonly stats: KcpStats = {
    segsSent: 0,
    rtoRetrans: 0,
    fastRetrans: 0,
    dupSegs: 0,
    packetsOut: 0,
    resumeRetrans: 0,
    spuriousRetrans: 0,
  };

  constructor(conv: number, output: (packet: Uint8Array) => void, reserved = 0) {
    if (!Number.isInteger(conv) || conv < 0 || conv > 0xffffffff) {
      throw new RangeError(`conv ${conv} is not a u32`);
    }
    if (!Number.isInteger(reserved) || reserved < 0 || reserved > MTU_DEF - OVERHEAD - 1) {
      throw new RangeError(`reserved ${reserved} is out of range`);
    }
    this.conv = conv;
    this.#output = output;
    this.#reserved = reserved;
    this.#mss = this.#mtu - OVERHEAD - reserved;
  }

  /** Largest payload of one segment. */
  get mss(): number {
    return this.#mss;
  }
  get mtu(): number {
    return this.#mtu;
  }
  /** Segments queued or in flight, not yet acknowledged. */
  get waitSnd(): number {
    return this.#sndBuf.length + this.#sndQueue.length;
  }
  get sndWnd(): number {
    return this.#sndWnd;
  }
  get rcvWnd(): number {
    return this.#rcvWnd;
  }
  /** The window the peer last advertised. */
  get rmtWnd(): number {
    return this.#rmtWnd;
  }
  get rto(): number {
    return this.#rxRto;
  }
  get srtt(): number {
    return this.#rxSrtt;
  }
  /** True once a segment was sent DEADLINK times without an acknowledgement. */
  get dead(): boolean {
    return this.#dead;
  }
  /**
   * Nothing to send, acknowledge or probe (or the path is down and no
   * acknowledgement is pending): no timer is needed until input, send or setPathUp.
   */
  get idle(): boolean {
    if (this.#ackCount > 0) return false;
    return !this.#pathUp ||
      (this.#sndBuf.length === 0 && this.#sndQueue.length === 0 && this.#probe === 0);
  }
  get pathUp(): boolean {
    return this.#pathUp;
  }
  /**
   * Tells the engine whether a carrier exists. While down, flush() sends only
   * acknowledgements: no new segment, retransmission or probe, and no RTO
   * backoff or dead-link count advances. Going up makes the next flush resend
   * every outstanding segment with its RTO reset to the current estimate.
   * Local scheduling only; the wire format is unchanged.
   */
  setPathUp(up: boolean): void {
    if (up === this.#pathUp) return;
    this.#pathUp = up;
    if (up) {
      this.#resume = true;
      this.#outageEnd = this.#current;
    }
  }
  /** Whether flush() (not only the acknowledgements) has work now: the window slid or a resume is due. */
  get flushDue(): boolean {
    return this.#pathUp && (this.#resume || (this.#windowSlid && this.#sndQueue.length > 0));
  }
  /** Segments held in memory: queued, in flight, and received but not yet read. */
  get bufferedSegments(): number {
    return this.#sndQueue.length + this.#sndBuf.length + this.#rcvBuf.count +
      this.#rcvQueue.length;
  }
  /** Acknowledgements waiting for the next flush. */
  get pendingAcks(): number {
    return this.#ackCount;
  }
  /** Sets the clock without flushing (before send() + flush() outside update()). */
  setClock(nowMs: number): void {
    this.#current = Math.floor(nowMs) >>> 0;
  }
  /** Complete messages (stream mode: segments) waiting in the receive queue. */
  get canRecv(): boolean {
    return this.peekSize() >= 0;
  }

  setMtu(mtu: number): void {
    if (!Number.isInteger(mtu) || mtu < 50 || mtu < OVERHEAD + this.#reserved + 1 || mtu > 65535) {
      throw new RangeError(`MTU ${mtu} is out of range`);
    }
    this.#mtu = mtu;
    this.#mss = mtu - OVERHEAD - this.#reserved;
  }

  setNoDelay(nodelay: number, interval: number, resend: number, nc: number): void {
    if (nodelay >= 0) {
      this.#nodelay = nodelay;
      this.#rxMinrto = nodelay ? RTO_NDL : RTO_MIN;
    }
    if (interval >= 0) this.#interval = Math.min(5000, Math.max(10, interval));
    if (resend >= 0) this.#fastresend = resend;
    if (nc >= 0) this.#nocwnd = nc !== 0;
  }

  setWindow(snd: number, rcv: number): void {
    for (const w of [snd, rcv]) {
      if (!Number.isInteger(w) || w > 65535) throw new RangeError(`window ${w} is out of range`);
    }
    if (snd > 0) this.#sndWnd = snd;
    // The receive window is at least WND_RCV, as in ikcp (fragments of one message must fit).
    if (rcv > 0) this.#rcvWnd = Math.max(rcv, WND_RCV);
  }

  /** Size of the next message in the receive queue, or -1 if none is complete. */
  peekSize(): number {
    const q = this.#rcvQueue;
    if (q.length === 0) return -1;
    const first = q.at(0);
    if (first.frg === 0) return first.data.length;
    if (q.length < first.frg + 1) return -1;
    let size = 0;
    for (let i = 0; i < q.length; i++) {
      const s = q.at(i);
      size += s.data.length;
      if (s.frg === 0) break;
    }
    return size;
  }

  /** Takes the next message (stream mode: the next segment's bytes), or null. */
  recv(): Uint8Array | null {
    const size = this.peekSize();
    if (size < 0) return null;
    const q = this.#rcvQueue;
    const recover = q.length >= this.#rcvWnd;
    let out: Uint8Array;
    const first = q.shift()!;
    if (first.frg === 0) {
      out = first.data;
    } else {
      out = new Uint8Array(size);
      out.set(first.data, 0);
      let off = first.data.length;
      for (;;) {
        const s = q.shift()!;
        out.set(s.data, off);
        off += s.data.length;
        if (s.frg === 0) break;
      }
    }
    this.#moveReceived();
    // The window reopened: tell the peer at the next flush.
    if (recover && q.length < this.#rcvWnd) this.#probe |= ASK_TELL;
    return out;
  }

  /** Queues data for sending. Throws RangeError if a message needs more than 255 fragments. */
  send(data: Uint8Array): void {
    let rest = data;
    const mss = this.#mss;
    if (this.stream) {
      const last = this.#sndQueue.last();
      if (last !== undefined && last.len < mss && last.data.length === mss) {
        const n = Math.min(mss - last.len, rest.length);
        last.data.set(rest.subarray(0, n), last.len);
        last.len += n;
        rest = rest.subarray(n);
      }
      if (rest.length === 0) return;
    }
    const count = rest.length <= mss ? 1 : Math.ceil(rest.length / mss);
    if (!this.stream && count > 255) {
      throw new RangeError(`message of ${data.length} bytes needs ${count} fragments (max 255)`);
    }
    for (let i = 0; i < count; i++) {
      const size = Math.min(mss, rest.length - i * mss);
      // A pooled mss-sized buffer each: in stream mode later writes fill a short tail.
      const buf = segmentPool.take(mss);
      buf.set(rest.subarray(i * mss, i * mss + size));
      this.#sndQueue.push({
        sn: 0,
        frg: this.stream ? 0 : count - i - 1,
        ts: 0,
        resendts: 0,
        rto: 0,
        fastack: 0,
        xmit: 0,
        acked: false,
        data: buf,
        len: size,
      });
    }
  }

  #sampleRate(delivered: number): void {
    this.#rateCount += delivered;
    const elapsed = diff(this.#current, this.#rateStart);
    if (elapsed < Math.max(this.#rxSrtt, this.#interval)) return;
    const rate = this.#rateCount / elapsed;
    this.#maxRate = Math.max(rate, this.#maxRate * RATE_DECAY);
    this.#rateStart = this.#current;
    this.#rateCount = 0;
  }

  /** Whether a copy sent at `ts` waited out an outage: its acknowledgement timed no path. */
  #spansOutage(ts: number): boolean {
    return this.#outageEnd !== null && diff(this.#outageEnd, ts) > 0;
  }

  #updateAck(rtt: number): void {
    if (
      rtt > 0 &&
      (this.#minRtt === 0 || rtt <= this.#minRtt ||
        diff(this.#current, this.#minRttAt) > MIN_RTT_WINDOW_MS)
    ) {
      this.#minRtt = rtt;
      this.#minRttAt = this.#current;
    }
    if (rtt < this.#roundMinRtt) this.#roundMinRtt = rtt;
    this.#roundSamples++;
    if (this.#rxSrtt === 0) {
      this.#rxSrtt = rtt;
      this.#rxRttvar = rtt >> 1;
    } else {
      let delta = rtt - this.#rxSrtt;
      this.#rxSrtt += delta >> 3;
      if (delta < 0) delta = -delta;
      // A sample below the expected range gets an 8x smaller weight (kcp-go).
      if (rtt < this.#rxSrtt - this.#rxRttvar) this.#rxRttvar += (delta - this.#rxRttvar) >> 5;
      else this.#rxRttvar += (delta - this.#rxRttvar) >> 2;
    }
    if (this.#rxSrtt < 1) this.#rxSrtt = 1;
    if (rtt > this.#rttMax) this.#rttMax = rtt;
    const rto = Math.max(
      this.#rxSrtt + Math.max(this.#interval, this.#rxRttvar << 2),
      this.#smart ? this.#rttMax + this.#interval : 0,
    );
    this.#rxRto = Math.min(RTO_MAX, Math.max(this.#rxMinrto, rto));
  }

  #shrinkBuf(): void {
    const buf = this.#sndBuf;
    while (buf.length > 0 && buf.at(0).acked) {
      buf.shift();
      this.#ackedInBuf--;
    }
    this.#sndUna = buf.length > 0 ? buf.at(0).sn : this.#sndNxt;
  }

  #parseUna(una: number): void {
    const buf = this.#sndBuf;
    while (buf.length > 0 && diff(una, buf.at(0).sn) > 0) {
      const seg = buf.shift()!;
      if (seg.acked) this.#ackedInBuf--;
      else {
        this.#delivered++;
        segmentPool.give(seg.data);
      }
    }
  }

  #parseAck(sn: number): void {
    if (diff(sn, this.#sndUna) < 0 || diff(sn, this.#sndNxt) >= 0) return;
    const buf = this.#sndBuf;
    if (buf.length === 0) return;
    const i = (sn - buf.at(0).sn) >>> 0;
    if (i >= buf.length) return;
    const seg = buf.at(i);
    if (!seg.acked) {
      seg.acked = true;
      segmentPool.give(seg.data);
      seg.data = EMPTY;
      this.#ackedInBuf++;
      this.#delivered++;
    }
  }

  /** An acknowledgement that echoes an earlier transmission of a retransmitted segment. */
  #countSpurious(sn: number, ts: number): void {
    const buf = this.#sndBuf;
    if (buf.length === 0) return;
    const i = (sn - buf.at(0).sn) >>> 0;
    if (i >= buf.length) return;
    const seg = buf.at(i);
    if (seg.acked || seg.xmit <= 1 || diff(ts, seg.ts) >= 0) return;
    this.stats.spuriousRetrans++;
    if (!this.#smart || this.#spansOutage(ts)) return;
    // The earlier copy was late, not lost: wait that much longer next time, and undo the cut.
    const late = diff(this.#current, ts) - this.#rxSrtt + RACK_REORDER_MS;
    this.#reorderWnd = Math.min(this.#rxRto, Math.max(this.#reorderWnd, late));
    if (this.#limitBeforeCut > this.#limit) {
      this.#limit = this.#limitBeforeCut;
      this.#limitThresh = this.#limit;
    }
    this.#limitBeforeCut = 0;
  }

  #parseFastack(sn: number, ts: number): void {
    const buf = this.#sndBuf;
    for (let i = 0; i < buf.length; i++) {
      const seg = buf.at(i);
      if (diff(sn, seg.sn) <= 0) break;
      if (!seg.acked && diff(ts, seg.ts) >= 0) {
        seg.fastack++;
        if (seg.fastack >= this.#fastresend) this.#fastackHit = true;
      }
    }
  }

  #pushAck(sn: number, ts: number): void {
    if (this.#ackCount * 2 === this.#acks.length) {
      const next = new Uint32Array(this.#acks.length * 2);
      next.set(this.#acks);
      this.#acks = next;
    }
    this.#acks[this.#ackCount * 2] = sn;
    this.#acks[this.#ackCount * 2 + 1] = ts;
    this.#ackCount++;
  }

  #parseData(sn: number, frg: number, data: Uint8Array): void {
    if (diff(sn, this.#rcvNxt + this.#rcvWnd) >= 0 || diff(sn, this.#rcvNxt) < 0) {
      this.stats.dupSegs++;
      return;
    }
    if (!this.#rcvBuf.insert({ sn, frg, data }, this.#rcvNxt)) {
      this.stats.dupSegs++;
      return;
    }
    this.#moveReceived();
  }

  #moveReceived(): void {
    const buf = this.#rcvBuf;
    while (buf.count > 0 && this.#rcvQueue.length < this.#rcvWnd) {
      const seg = buf.take(this.#rcvNxt);
      if (seg === undefined) break;
      this.#rcvQueue.push(seg);
      this.#rcvNxt = (this.#rcvNxt + 1) >>> 0;
    }
  }

  /**
   * Feeds one packet of segments. Returns 0, or a negative code and ignores the
   * rest of the packet: -1 too short or another conv, -2 a length past the end,
   * -3 an unknown command. `nowMs`, if given, updates the clock first (RTT samples).
   */
  input(packet: Uint8Array, nowMs?: number): number {
    if (nowMs !== undefined) this.#current = Math.floor(nowMs) >>> 0;
    if (packet.length < OVERHEAD || readU32(packet, 0) !== this.conv) return -1;
    this.#noteHeard();
    const prevUna = this.#sndUna;
    let maxack = 0;
    let latestTs = 0;
    let sawAck = false;
    let o = 0;
    const n = packet.length;
    while (n - o >= OVERHEAD) {
      if (readU32(packet, o) !== this.conv) return -1;
      const cmd = packet[o + 4]!;
      const frg = packet[o + 5]!;
      const wnd = packet[o + 6]! | (packet[o + 7]! << 8);
      const ts = readU32(packet, o + 8);
      const sn = readU32(packet, o + 12);
      const una = readU32(packet, o + 16);
      const len = readU32(packet, o + 20);
      o += OVERHEAD;
      if (len > n - o) return -2;
      if (cmd < CMD_PUSH || cmd > CMD_WINS) return -3;
      this.#rmtWnd = wnd;
      if (cmd === CMD_ACK) this.#countSpurious(sn, ts);
      this.#parseUna(una);
      this.#shrinkBuf();
      if (cmd === CMD_ACK) {
        const rtt = diff(this.#current, ts);
        if (rtt >= 0 && !this.#spansOutage(ts)) this.#updateAck(rtt);
        this.#parseAck(sn);
        this.#shrinkBuf();
        if (!this.#rackSeen || diff(ts, this.#rackTs) > 0) {
          this.#rackTs = ts;
          this.#rackSeen = true;
        }
        if (!sawAck || diff(sn, maxack) > 0) {
          sawAck = true;
          maxack = sn;
          latestTs = ts;
        }
      } else if (cmd === CMD_PUSH) {
        if (diff(sn, this.#rcvNxt + this.#rcvWnd) < 0) {
          this.#pushAck(sn, ts);
          if (diff(sn, this.#rcvNxt) >= 0) {
            this.#parseData(sn, frg, packetSlab.copy(packet.subarray(o, o + len)));
          } else this.stats.dupSegs++;
        }
      } else if (cmd === CMD_WASK) {
        this.#probe |= ASK_TELL;
      }
      o += len;
    }
    if (sawAck && this.#fastresend > 0) this.#parseFastack(maxack, latestTs);
    // A segment sent after the oldest unacknowledged one was acknowledged: a hole.
    if (this.#smart && this.#sndBuf.length > 0 && diff(this.#rackTs, this.#sndBuf.at(0).ts) > 0) {
      this.#fastackHit = true;
    }
    if (diff(this.#sndUna, this.#roundEnd) >= 0) this.#endRound();
    if (this.#delivered > 0) {
      const d = this.#delivered;
      this.#delivered = 0;
      if (this.#limit < this.#limitThresh) this.#limit += d;
      else if (!this.#queueing) this.#limit += d * LIMIT_GROWTH;
      if (this.#limit > this.#sndWnd) this.#limit = this.#sndWnd;
      this.#sampleRate(d);
    }
    this.#windowSlid = diff(this.#sndUna, prevUna) > 0;
    if (!this.#nocwnd && this.#windowSlid) this.#growCwnd();
    return 0;
  }

  /**
   * The peer was heard. After a silence long enough to be an outage, the
   * retransmission timers of outstanding segments may be backed off for tens
   * of seconds: resume at once instead (what to resend and when is local).
   */
  #noteHeard(): void {
    const now = this.#current;
    const gap = diff(now, this.#lastInput);
    if (this.#inputSeen && gap >= Math.max(OUTAGE_GAP_MS, 2 * this.#rxRto)) this.#outageEnd = now;
    if (
      (!this.#inputSeen || gap >= Math.max(OUTAGE_GAP_MS, 2 * this.#rxRto)) &&
      this.#sndBuf.length > 0 && this.#sndBuf.at(0).xmit >= 2
    ) {
      this.#resume = true;
    }
    this.#lastInput = now;
    this.#inputSeen = true;
    this.#lastActive = now;
  }

  /** One round of acknowledgements is over: did the RTT rise (a queue)? */
  #endRound(): void {
    if (this.#roundSamples >= ROUND_SAMPLES) {
      const rise = Math.min(
        QUEUE_RISE_MAX_MS,
        Math.max(QUEUE_RISE_MIN_MS, this.#minRtt * QUEUE_RISE),
      );
      this.#queueing = this.#roundMinRtt >= this.#minRtt + rise;
      if (this.#queueing && this.#limitThresh === Infinity) this.#limitThresh = this.#limit;
    }
    this.#reorderWnd = Math.max(RACK_REORDER_MS, this.#reorderWnd * REORDER_DECAY);
    this.#rttMax = Math.floor(this.#rttMax * REORDER_DECAY);
    this.#roundEnd = this.#sndNxt;
    this.#roundMinRtt = Infinity;
    this.#roundSamples = 0;
  }

  #growCwnd(): void {
    const mss = this.#mss;
    if (this.#cwnd < this.#rmtWnd) {
      if (this.#cwnd < this.#ssthresh) {
        this.#cwnd++;
        this.#incr += mss;
      } else {
        if (this.#incr < mss) this.#incr = mss;
        this.#incr += Math.floor((mss * mss) / this.#incr) + Math.floor(mss / 16);
        if ((this.#cwnd + 1) * mss <= this.#incr) {
          this.#cwnd = Math.floor((this.#incr + mss - 1) / (mss > 0 ? mss : 1));
        }
      }
      if (this.#cwnd > this.#rmtWnd) {
        this.#cwnd = this.#rmtWnd;
        this.#incr = this.#rmtWnd * mss;
      }
    }
  }

  #wndUnused(): number {
    const q = this.#rcvQueue.length;
    return q < this.#rcvWnd ? this.#rcvWnd - q : 0;
  }

  /** Outputs the packet built so far; `last` ends the flush instead of starting another. */
  #emit(ptr: number, last = false): number {
    if (ptr > this.#reserved) {
      const packet = this.#buffer.subarray(0, ptr);
      // Claimed and released before output(), which may use the slab itself.
      packetSlab.commit(ptr);
      this.#buffer = EMPTY;
      this.stats.packetsOut++;
      this.#output(packet);
    }
    this.#buffer = last ? EMPTY : packetSlab.reserve(this.#mtu);
    return this.#reserved;
  }

  /** Sends pending acknowledgements, probes and segments now. */
  flush(ackOnly = false): void {
    const current = this.#current;
    this.#buffer = packetSlab.reserve(this.#mtu);
    const mtu = this.#mtu;
    const conv = this.conv;
    const wnd = this.#wndUnused();
    const rcvNxt = this.#rcvNxt;
    let ptr = this.#reserved;

    const acks = this.#acks;
    const ackCount = this.#ackCount;
    for (let i = 0; i < ackCount; i++) {
      const sn = acks[i * 2]!;
      // Acks below rcv_nxt are covered by una; kcp-go keeps only the last of them.
      if (diff(sn, rcvNxt) < 0 && i !== ackCount - 1) continue;
      if (ptr + OVERHEAD > mtu) ptr = this.#emit(ptr);
      ptr = encodeHeader(this.#buffer, ptr, conv, CMD_ACK, 0, wnd, acks[i * 2 + 1]!, sn, rcvNxt, 0);
    }
    this.#ackCount = 0;
    if (ackOnly || !this.#pathUp) {
      this.#emit(ptr, true);
      return;
    }

    if (this.#rmtWnd === 0) {
      if (this.#probeWait === 0) {
        this.#probeWait = PROBE_INIT;
        this.#tsProbe = (current + this.#probeWait) >>> 0;
      } else if (diff(current, this.#tsProbe) >= 0) {
        if (this.#probeWait < PROBE_INIT) this.#probeWait = PROBE_INIT;
        this.#probeWait += Math.floor(this.#probeWait / 2);
        if (this.#probeWait > PROBE_LIMIT) this.#probeWait = PROBE_LIMIT;
        this.#tsProbe = (current + this.#probeWait) >>> 0;
        this.#probe |= ASK_SEND;
      }
    } else {
      this.#tsProbe = 0;
      this.#probeWait = 0;
    }
    if (this.#probe & ASK_SEND) {
      if (ptr + OVERHEAD > mtu) ptr = this.#emit(ptr);
      ptr = encodeHeader(this.#buffer, ptr, conv, CMD_WASK, 0, wnd, 0, 0, rcvNxt, 0);
    }
    if (this.#probe & ASK_TELL) {
      if (ptr + OVERHEAD > mtu) ptr = this.#emit(ptr);
      ptr = encodeHeader(this.#buffer, ptr, conv, CMD_WINS, 0, wnd, 0, 0, rcvNxt, 0);
    }
    this.#probe = 0;

    let cwnd = Math.min(this.#sndWnd, this.#rmtWnd);
    if (!this.#nocwnd) cwnd = Math.min(this.#cwnd, cwnd);

    const sndBuf = this.#sndBuf;
    const firstNew = this.#sndNxt;
    const limit = this.#smart ? this.#limit : Infinity;
    while (
      diff(this.#sndNxt, this.#sndUna + cwnd) < 0 && this.#sndQueue.length > 0 &&
      sndBuf.length - this.#ackedInBuf < limit
    ) {
      const seg = this.#sndQueue.shift()!;
      seg.sn = this.#sndNxt;
      this.#sndNxt = (this.#sndNxt + 1) >>> 0;
      sndBuf.push(seg);
    }

    const resent = this.#fastresend > 0 ? this.#fastresend : 0xffffffff;
    // ikcp's extra delay before the first retransmission when nodelay is off.
    const rtomin = this.#nodelay === 0 ? this.#rxRto >> 3 : 0;
    const resume = this.#resume;
    this.#resume = false;
    const stalled = !this.#rtoDeferred &&
      diff(current, this.#lastActive) > 2 * this.#interval + STALL_SLACK_MS;
    this.#rtoDeferred = stalled;
    this.#lastActive = current;
    this.#windowSlid = false;
    const fullScan = resume || this.#fastackHit ||
      (this.#hasResend && diff(current, this.#nextResend) >= 0);
    let start = 0;
    if (!fullScan && sndBuf.length > 0) {
      start = (firstNew - sndBuf.at(0).sn) >>> 0;
      if (start > sndBuf.length) start = sndBuf.length;
    }
    let hasResend = fullScan ? false : this.#hasResend;
    let nextResend = this.#nextResend;
    let change = 0;
    let lost = false;
    let retransBudget = this.#smart
      ? Math.max(4, Math.floor(this.#limit * RETRANS_SHARE))
      : Infinity;
    for (let i = start; i < sndBuf.length; i++) {
      const seg = sndBuf.at(i);
      if (seg.acked) continue;
      let send = false;
      if (seg.xmit === 0) {
        send = true;
        seg.rto = this.#rxRto;
        seg.resendts = (current + seg.rto + rtomin) >>> 0;
        this.stats.segsSent++;
      } else if (resume) {
        // The path is back: resend as if new, with the RTO of the current estimate.
        send = true;
        seg.fastack = 0;
        seg.rto = this.#rxRto;
        seg.resendts = (current + seg.rto + rtomin) >>> 0;
        this.stats.resumeRetrans++;
      } else if (diff(current, seg.resendts) >= 0 && retransBudget > 0 && !stalled) {
        send = true;
        retransBudget--;
        seg.rto += this.#nodelay === 0
          ? Math.max(seg.rto, this.#rxRto)
          : Math.floor((this.#nodelay < 2 ? seg.rto : this.#rxRto) / 2);
        if (seg.rto > RTO_MAX) seg.rto = RTO_MAX;
        seg.resendts = (current + seg.rto) >>> 0;
        lost = true;
        this.stats.rtoRetrans++;
      } else if (
        this.#smart && diff(this.#rackTs, seg.ts) > 0 &&
        diff(current, seg.ts) >= Math.max(this.#rxSrtt + this.#reorderWnd, this.#rttMax)
      ) {
        // Acknowledged segments sent after this one: lost, not merely late.
        send = true;
        seg.fastack = 0;
        seg.resendts = (current + seg.rto) >>> 0;
        change++;
        this.stats.fastRetrans++;
      } else if (seg.fastack >= resent) {
        send = true;
        seg.fastack = 0;
        seg.resendts = (current + seg.rto) >>> 0;
        change++;
        this.stats.fastRetrans++;
      }
      if (send) {
        seg.xmit++;
        seg.ts = current;
        if (ptr + OVERHEAD + seg.len > mtu) ptr = this.#emit(ptr);
        ptr = encodeHeader(
          this.#buffer,
          ptr,
          conv,
          CMD_PUSH,
          seg.frg,
          wnd,
          current,
          seg.sn,
          rcvNxt,
          seg.len,
        );
        if (seg.len > 0) {
          this.#buffer.set(
            seg.len === seg.data.length ? seg.data : seg.data.subarray(0, seg.len),
            ptr,
          );
          ptr += seg.len;
        }
        if (seg.xmit >= this.#deadLink) this.#dead = true;
      }
      if (!hasResend || diff(seg.resendts, nextResend) < 0) {
        nextResend = seg.resendts;
        hasResend = true;
      }
    }
    this.#hasResend = hasResend;
    this.#nextResend = nextResend;
    this.#fastackHit = false;
    this.#emit(ptr, true);

    if ((lost || change > 0) && this.#smart) this.#cutLimit(current);
    if (change > 0) {
      const inflight = (this.#sndNxt - this.#sndUna) >>> 0;
      this.#ssthresh = Math.max(THRESH_MIN, Math.floor(inflight / 2));
      this.#cwnd = this.#ssthresh + resent;
      this.#incr = this.#cwnd * this.#mss;
    }
    if (lost) {
      this.#ssthresh = Math.max(THRESH_MIN, Math.floor(cwnd / 2));
      this.#cwnd = 1;
      this.#incr = this.#mss;
    }
    if (this.#cwnd < 1) {
      this.#cwnd = 1;
      this.#incr = this.#mss;
    }
  }

  #cutLimit(current: number): void {
    if (diff(current, this.#lastCut) < Math.max(this.#rxSrtt, this.#interval)) return;
    this.#lastCut = current;
    this.#limitBeforeCut = this.#limit;
    const bdp = this.#maxRate * Math.max(this.#minRtt, this.#interval);
    this.#limit = Math.max(
      LIMIT_MIN,
      Math.floor(this.#limit * LIMIT_CUT),
      Math.min(this.#limit, Math.floor(LIMIT_BDP_FLOOR * bdp)),
    );
    this.#limitThresh = this.#limit;
  }

  /**
   * Smart sending (default on): caps segments in flight by a limit that grows
   * with acknowledgements and is cut by a quarter on loss, and spreads RTO
   * retransmissions over flushes. Local scheduling only, wire-compatible; it
   * avoids the retransmission storms of a 65535-segment window with the
   * congestion window off. Off = exactly ikcp's sending.
   */
  set smartSend(on: boolean) {
    this.#smart = on;
  }
  get smartSend(): boolean {
    return this.#smart;
  }
  /** Segments waitSnd may reach before a writer should wait (kcp-go: the send window). */
  get sendCapacity(): number {
    return this.#smart ? Math.min(this.#sndWnd, 2 * Math.floor(this.#limit) + 256) : this.#sndWnd;
  }
  /** Current in-flight cap of smart sending, in segments. */
  get sendLimit(): number {
    return Math.floor(this.#limit);
  }

  /** Advances the clock and flushes when an interval has passed. Call it every interval or at check(). */
  update(nowMs: number): void {
    this.#current = Math.floor(nowMs) >>> 0;
    if (!this.#updated) {
      this.#updated = true;
      this.#tsFlush = this.#current;
    }
    let slap = diff(this.#current, this.#tsFlush);
    if (slap >= 10000 || slap < -10000) {
      this.#tsFlush = this.#current;
      slap = 0;
    }
    if (slap >= 0) {
      this.#tsFlush = (this.#tsFlush + this.#interval) >>> 0;
      if (diff(this.#current, this.#tsFlush) >= 0) {
        this.#tsFlush = (this.#current + this.#interval) >>> 0;
      }
      this.flush();
    }
  }

  /** Milliseconds from `nowMs` until update() has work to do (0 = now). */
  check(nowMs: number): number {
    const current = Math.floor(nowMs) >>> 0;
    if (!this.#updated) return 0;
    let tsFlush = this.#tsFlush;
    if (diff(current, tsFlush) >= 10000 || diff(current, tsFlush) < -10000) tsFlush = current;
    if (diff(current, tsFlush) >= 0) return 0;
    // update() flushes only at interval ticks, where due retransmissions go out:
    // unlike ikcp, a due retransmission does not ask for a wakeup before the tick.
    return Math.min(diff(tsFlush, current), this.#interval);
  }

  /** Drops all queued data (after close). */
  reset(): void {
    for (const ring of [this.#sndQueue, this.#sndBuf]) {
      for (let i = 0; i < ring.length; i++) segmentPool.give(ring.at(i).data);
      ring.clear();
    }
    this.#ackedInBuf = 0;
    this.#rcvQueue.clear();
    this.#rcvBuf.clear();
    this.#ackCount = 0;
    this.#probe = 0;
  }
}
