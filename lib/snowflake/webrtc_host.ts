/**
 * The WebRTC host process: runs the peer connections and data channels another process asks
 * for over a link (lib/snowflake/webrtc_frames.ts, webrtc_link.ts), so that a crash in the
 * WebRTC library kills this process and not that one (lib/snowflake/webrtc_isolated.ts).
 *
 * Channels the remote opens are announced ({@link Kind.DataChannel}) before any of their events.
 * Messages to send wait here while the channel's `bufferedAmount` is above the high-water
 * mark; a {@link Kind.Sent} frame tells the owner once they were handed to the channel.
 *
 * @module
 */
import {
  type CallRequest,
  type ChannelAnnouncement,
  type ChannelEvent,
  type Frame,
  frame,
  type FrameConn,
  FrameWriter,
  HOST_IDS,
  json,
  Kind,
  type NewChannelRequest,
  type PeerEvent,
  type PeerState,
  readFrames,
  sentFrame,
} from "./webrtc_frames.ts";
import {
  closePeer,
  type DataChannel,
  type PeerConnection,
  type PeerConnectionConfig,
  sleep,
  type WebRTC,
} from "./webrtc.ts";

/** A channel holds at most this many bytes queued in libwebrtc before sends wait. */
const HIGH_WATER = 1 << 20;

const PEER_EVENTS = [
  "icecandidate",
  "icegatheringstatechange",
  "connectionstatechange",
  "iceconnectionstatechange",
  "signalingstatechange",
];

function stateOf(pc: PeerConnection): PeerState {
  const desc = (d: { type: string; sdp: string } | null) => d && { type: d.type, sdp: d.sdp };
  const more = pc as unknown as { iceConnectionState?: string; signalingState?: string };
  return {
    connectionState: pc.connectionState,
    iceConnectionState: more.iceConnectionState ?? "new",
    iceGatheringState: pc.iceGatheringState,
    signalingState: more.signalingState ?? "stable",
    localDescription: desc(pc.localDescription),
    remoteDescription: desc(pc.remoteDescription),
  };
}

/** One channel's queue of messages to send. */
class Outbox {
  #queue: Uint8Array<ArrayBuffer>[] = [];
  #pumping = false;
  #bound = 0;

  constructor(
    readonly id: number,
    readonly peer: number,
    readonly dc: DataChannel,
    readonly out: FrameWriter,
  ) {}

  push(message: Uint8Array<ArrayBuffer>): void {
    this.#queue.push(message);
    if (!this.#pumping) this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    let handed = 0;
    while (this.#queue.length > 0) {
      const m = this.#queue.shift()!;
      try {
        this.dc.send(m);
      } catch { /* closing: its close event follows */ }
      handed += m.byteLength;
      this.#bound += m.byteLength;
      if (this.#bound <= HIGH_WATER) continue;
      this.out.write(sentFrame(this.id, handed));
      handed = 0;
      while ((this.#bound = this.dc.bufferedAmount) > HIGH_WATER) {
        if (this.dc.readyState !== "open") {
          this.#queue = [];
          break;
        }
        await sleep(1);
      }
    }
    if (handed > 0) this.out.write(sentFrame(this.id, handed));
    this.#pumping = false;
  }
}

/**
 * Serves peer connections made with `webrtc` to the process at the other end of `link` until
 * it ends; then closes them all.
 */
export async function serveWebRTC(webrtc: WebRTC, link: FrameConn): Promise<void> {
  const out = new FrameWriter(link);
  const peers = new Map<number, PeerConnection>();
  const channels = new Map<number, Outbox>();
  let nextChannel = HOST_IDS;

  const watchPeer = (id: number, pc: PeerConnection) => {
    pc.addEventListener("datachannel", (e) => {
      const dc = (e as RTCDataChannelEvent).channel as unknown as DataChannel;
      const channel = nextChannel++;
      channels.set(channel, new Outbox(channel, id, dc, out));
      const ann: ChannelAnnouncement = { peer: id, label: dc.label, readyState: dc.readyState };
      out.write(frame(Kind.DataChannel, channel, ann));
      watchChannel(channel, dc);
    });
    for (const type of PEER_EVENTS) {
      pc.addEventListener(type, (e) => {
        const ev: PeerEvent = { type, state: stateOf(pc) };
        if (type === "icecandidate") {
          const c = (e as RTCPeerConnectionIceEvent).candidate;
          ev.candidate = c &&
            { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
        }
        out.write(frame(Kind.PeerEvent, id, ev));
      });
    }
  };

  const watchChannel = (id: number, dc: DataChannel) => {
    dc.binaryType = "arraybuffer";
    const tell = (type: ChannelEvent["type"]) => () => {
      if (type !== "open") channels.delete(id);
      out.write(frame(Kind.ChannelEvent, id, { type } satisfies ChannelEvent));
    };
    dc.addEventListener("open", tell("open"));
    dc.addEventListener("close", tell("close"));
    dc.addEventListener("error", tell("error"));
    dc.addEventListener("message", (e) => {
      const d = (e as MessageEvent).data;
      const bytes = typeof d === "string" ? new TextEncoder().encode(d) : new Uint8Array(d);
      out.write(frame(Kind.Message, id, bytes));
    });
  };

  const call = async (id: number, req: CallRequest) => {
    const pc = peers.get(req.peer);
    try {
      if (!pc) throw new DOMException("peer connection closed", "InvalidStateError");
      const value = await (pc[req.method] as (arg?: unknown) => Promise<unknown>).call(pc, req.arg);
      const plain = value && typeof value === "object"
        ? JSON.parse(JSON.stringify(value))
        : value ?? null;
      out.write(frame(Kind.Result, id, { value: plain, state: stateOf(pc) }));
    } catch (e) {
      const err = e as Error;
      out.write(frame(Kind.Result, id, { error: { name: err.name, message: err.message } }));
    }
  };

  const handle = (f: Frame) => {
    switch (f.kind) {
      case Kind.Send:
        channels.get(f.id)?.push(f.payload);
        break;
      case Kind.NewPeer: {
        const pc = webrtc.newPeerConnection(json<PeerConnectionConfig>(f));
        peers.set(f.id, pc);
        watchPeer(f.id, pc);
        break;
      }
      case Kind.Call:
        call(f.id, json<CallRequest>(f));
        break;
      case Kind.ClosePeer:
        closePeer(peers.get(f.id));
        peers.delete(f.id);
        // Its channels close with it, whether or not libwebrtc says so.
        for (const [id, box] of channels) {
          if (box.peer !== f.id) continue;
          channels.delete(id);
          out.write(frame(Kind.ChannelEvent, id, { type: "close" } satisfies ChannelEvent));
        }
        break;
      case Kind.NewChannel: {
        const req = json<NewChannelRequest>(f);
        const pc = peers.get(req.peer);
        if (!pc) {
          out.write(frame(Kind.ChannelEvent, f.id, { type: "close" } satisfies ChannelEvent));
          break;
        }
        const dc = pc.createDataChannel(req.label, req.init);
        channels.set(f.id, new Outbox(f.id, req.peer, dc, out));
        watchChannel(f.id, dc);
        break;
      }
      case Kind.CloseChannel:
        try {
          channels.get(f.id)?.dc.close();
        } catch { /* already closed */ }
        break;
    }
  };

  try {
    await readFrames(link, handle);
  } catch { /* the owner is gone */ }
  for (const pc of peers.values()) closePeer(pc);
  await out.close();
}
