/**
 * One Snowflake proxy reached over WebRTC (docs/PROTOCOL.md §1), the way the Go client dials it:
 * the client is the offerer; the data channel (`snowflake-<16 hex>`, ordered, reliable) is
 * created before the offer; ICE is non-trickle; local candidates are stripped unless asked to
 * keep them; the offer goes to the broker, the proxy's answer comes back; the channel must
 * open within 10 s. The peer connection is closed on every path: failed dial, channel close,
 * ICE failure, staleness, or {@link WebRTCPeer.close}.
 *
 * @module
 */
import type { Conn } from "../lib/net/types.ts";
import { NamedAddr } from "../lib/net/addr.ts";
import { type DataChannelConn, dataChannelConn } from "../lib/snowflake/datachannel.ts";
import type { BrokerChannel } from "../lib/snowflake/rendezvous.ts";
import {
  closePeer,
  type PeerConnection,
  type SessionDescription,
  stripLocalCandidates,
  type WebRTC,
} from "../lib/snowflake/webrtc.ts";
import type { IceServer } from "../lib/snowflake/client_config.ts";
import { gatherUsable } from "../lib/snowflake/gather.ts";

// Go client timing (docs/client.md).
/** The data channel must open within this after the answer arrived. */
export const DATA_CHANNEL_TIMEOUT_MS = 10_000;
/** A peer that delivered nothing for this long is closed (a keepalive arrives every 10 s). */
export const STALE_TIMEOUT_MS = 20_000;

// Implementation choices.
/** ICE gathering ends at the latest after this (Go waits up to 10 s); lib/snowflake/gather.ts. */
const GATHER_TIMEOUT_MS = 5_000;
/**
 * ICE "disconnected" for this long closes the peer: libwebrtc reports it a few seconds after
 * packets stop, so a killed proxy is noticed in seconds rather than after 20 s of silence.
 */
const DISCONNECTED_GRACE_MS = 1_000;

/** Options for {@link dialPeer}. */
export interface PeerOptions {
  webrtc: WebRTC;
  broker: BrokerChannel;
  iceServers: IceServer[];
  /** Our addresses as the STUN servers saw them (ends gathering early, lib/snowflake/gather.ts). */
  reflexive?: readonly string[];
  keepLocalAddresses: boolean;
  staleTimeoutMs?: number;
  log?: (message: string) => void;
  signal?: AbortSignal;
}

/** A connected proxy: a byte-stream Conn over its data channel. */
export class WebRTCPeer {
  readonly conn: Conn;
  readonly closed: Promise<void>;
  /** Bytes received and sent on the data channel. */
  bytesIn = 0;
  bytesOut = 0;
  #pc: PeerConnection;
  #dcConn: DataChannelConn;
  #lastReceive = Date.now();
  #timer: ReturnType<typeof setInterval>;
  #isClosed = false;

  constructor(
    readonly id: string,
    pc: PeerConnection,
    dcConn: DataChannelConn,
    staleMs: number,
    log: (m: string) => void,
  ) {
    this.#pc = pc;
    this.#dcConn = dcConn;
    this.conn = dcConn;
    this.closed = dcConn.closed;
    let disconnectedSince = 0;
    this.#timer = setInterval(() => {
      const state = pc.connectionState;
      if (state === "failed" || state === "closed") {
        log(`${id}: peer connection ${state}; closing`);
        return this.close();
      }
      const ice = (pc as unknown as { iceConnectionState?: string }).iceConnectionState;
      if (ice === "disconnected") {
        disconnectedSince ||= Date.now();
        if (Date.now() - disconnectedSince >= DISCONNECTED_GRACE_MS) {
          log(`${id}: ICE disconnected for ${DISCONNECTED_GRACE_MS / 1000} s; closing`);
          return this.close();
        }
      } else disconnectedSince = 0;
      if (Date.now() - this.#lastReceive > staleMs) {
        log(`${id}: nothing received for ${staleMs / 1000} s; closing stale peer`);
        this.close();
      }
    }, 500);
    dcConn.closed.then(() => this.close());
  }

  /** Called by the data channel on every message. */
  received(n: number): void {
    this.bytesIn += n;
    this.#lastReceive = Date.now();
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#timer);
    this.#dcConn.close();
    closePeer(this.#pc);
  }
}

/**
 * Sets a fresh offer as the local description and gathers ICE candidates until they are
 * usable (lib/snowflake/gather.ts). Returns the local description with what was gathered.
 */
export async function gatherOffer(
  pc: PeerConnection,
  stun: boolean,
  reflexive: readonly string[] = [],
): Promise<SessionDescription> {
  const offer = await gatherUsable(pc, await pc.createOffer(), {
    stun,
    reflexive,
    timeoutMs: GATHER_TIMEOUT_MS,
  });
  return { type: "offer", sdp: offer.sdp };
}

function randomLabel(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return "snowflake-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Rendezvous through the broker and connect to the proxy it picked. Rejects (with the peer
 * connection closed) on any failure; NAT-policy failures are reported to the broker channel.
 */
export async function dialPeer(options: PeerOptions): Promise<WebRTCPeer> {
  const log = options.log ?? (() => {});
  const id = randomLabel();
  const pc = options.webrtc.newPeerConnection({ iceServers: options.iceServers });
  let peer: WebRTCPeer | null = null;
  const onAbort = () => closePeer(pc);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const dc = pc.createDataChannel(id, { ordered: true });
    let resolveOpen = () => {};
    const opened = new Promise<void>((r) => (resolveOpen = r));
    dc.addEventListener("open", () => resolveOpen());
    const dcConn = dataChannelConn(dc, {
      onRead: (n) => peer?.received(n),
      onWrite: (n) => peer && (peer.bytesOut += n),
      onClose: () => closePeer(pc),
      remoteAddr: new NamedAddr("webrtc", id),
    });
    const offer = await gatherOffer(pc, options.iceServers.length > 0, options.reflexive);
    options.signal?.throwIfAborted();
    if (!options.keepLocalAddresses) offer.sdp = stripLocalCandidates(offer.sdp);
    log(`${id}: offer ready; asking the broker via ${options.broker.method.name}`);
    const { answer, sentNat, actualNat } = await options.broker.negotiate(offer, options.signal);
    log(`${id}: answer received (sent NAT type ${sentNat}, ours ${actualNat})`);
    await pc.setRemoteDescription(answer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), DATA_CHANNEL_TIMEOUT_MS);
    });
    const winner = await Promise.race([opened.then(() => "open" as const), timeout, dcConn.closed]);
    clearTimeout(timer);
    options.signal?.throwIfAborted();
    if (winner !== "open") {
      options.broker.policy.failure(actualNat, sentNat);
      throw new Error(
        winner === "timeout"
          ? `${id}: data channel did not open within ${DATA_CHANNEL_TIMEOUT_MS / 1000} s`
          : `${id}: data channel closed before opening`,
      );
    }
    peer = new WebRTCPeer(id, pc, dcConn, options.staleTimeoutMs ?? STALE_TIMEOUT_MS, log);
    log(`${id}: data channel open`);
    return peer;
  } catch (e) {
    closePeer(pc);
    throw e;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}
