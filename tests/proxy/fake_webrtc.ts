/**
 * An in-memory twin of the WebRTC surface the proxy core uses (lib/snowflake/webrtc.ts), for
 * unit tests of proxy/relay/core.ts only: it counts peer connections made and closed, and lets a
 * test open the client's data channel, write into it and read what the proxy sends.
 *
 * @module
 */
import type {
  DataChannel,
  PeerConnection,
  PeerConnectionConfig,
  SessionDescription,
  WebRTC,
} from "../../lib/snowflake/webrtc.ts";

const ANSWER_SDP = "v=0\r\na=candidate:1 1 udp 2122260223 203.0.113.5 5000 typ host\r\n";

/** The proxy's end of a client's data channel. */
export class FakeChannel extends EventTarget implements DataChannel {
  readonly label = "snowflake-fake";
  readyState: DataChannel["readyState"] = "connecting";
  bufferedAmount = 0;
  binaryType = "arraybuffer";
  /** What the proxy sent to the client. */
  readonly sent: Uint8Array[] = [];

  send(data: Uint8Array<ArrayBuffer>): void {
    if (this.readyState !== "open") throw new Error("not open");
    this.sent.push(data.slice());
  }
  close(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
  }
  open(): void {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }
  /** The client writes `data`. */
  deliver(data: Uint8Array): void {
    this.dispatchEvent(new MessageEvent("message", { data: data.slice().buffer }));
  }
}

/** A peer connection whose answer is immediate and whose client is driven by the test. */
export class FakePeer extends EventTarget implements PeerConnection {
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  iceGatheringState = "new";
  connectionState = "new";
  closed = false;

  constructor(readonly config: PeerConnectionConfig, readonly failRemote: boolean) {
    super();
  }
  createOffer(): Promise<{ type: string; sdp?: string }> {
    return Promise.resolve({ type: "offer", sdp: ANSWER_SDP });
  }
  createAnswer(): Promise<{ type: string; sdp?: string }> {
    return Promise.resolve({ type: "answer", sdp: ANSWER_SDP });
  }
  setLocalDescription(d: { type: string; sdp?: string }): Promise<void> {
    this.localDescription = { type: d.type, sdp: d.sdp ?? "" };
    this.iceGatheringState = "complete";
    return Promise.resolve();
  }
  setRemoteDescription(d: SessionDescription): Promise<void> {
    if (this.failRemote) return Promise.reject(new Error("bad offer"));
    this.remoteDescription = d;
    return Promise.resolve();
  }
  createDataChannel(): DataChannel {
    return new FakeChannel();
  }
  close(): void {
    this.closed = true;
    this.connectionState = "closed";
  }
  /** The client's channel arrives (still connecting); returns it. */
  arrive(): FakeChannel {
    const channel = new FakeChannel();
    const event = new Event("datachannel") as Event & { channel: FakeChannel };
    event.channel = channel;
    this.dispatchEvent(event);
    return channel;
  }
}

/** Makes {@link FakePeer}s and remembers them. */
export class FakeWebRTC implements WebRTC {
  readonly peers: FakePeer[] = [];
  failRemote = false;
  #waiters: ((p: FakePeer) => void)[] = [];

  newPeerConnection(config: PeerConnectionConfig): PeerConnection {
    const peer = new FakePeer(config, this.failRemote);
    this.peers.push(peer);
    for (const w of this.#waiters.splice(0)) w(peer);
    return peer;
  }
  /** Resolves with the next peer connection made (or the n-th, if already made). */
  peer(n: number): Promise<FakePeer> {
    if (this.peers[n]) return Promise.resolve(this.peers[n]!);
    return new Promise((resolve) => {
      const check = (p: FakePeer) => {
        if (this.peers[n]) resolve(this.peers[n]!);
        else this.#waiters.push(check);
        void p;
      };
      this.#waiters.push(check);
    });
  }
  get open(): number {
    return this.peers.filter((p) => !p.closed).length;
  }
}
