/**
 * An in-memory twin of `RTCPeerConnection` and `RTCDataChannel` (the part lib/snowflake/webrtc.ts
 * uses), for unit tests without sockets: peers in one process find each other through their
 * SDP, which carries a registry id and one made-up host candidate. Gathering completes at once;
 * a channel opens when the offerer sets the answer; messages are copied and delivered in a
 * later task, in order; `bufferedAmount` is always 0. Use it as a constructor where a browser
 * or @roamhq/wrtc `RTCPeerConnection` goes.
 *
 * @module
 */

const peers = new Map<string, MemoryRTCPeerConnection>();
let nextId = 0;

function event<T extends object>(type: string, fields: T): Event & T {
  return Object.assign(new Event(type), fields);
}

/** One end of an in-memory data channel. */
export class MemoryRTCDataChannel extends EventTarget {
  readyState: "connecting" | "open" | "closing" | "closed" = "connecting";
  readonly bufferedAmount = 0;
  binaryType = "arraybuffer";
  peer: MemoryRTCDataChannel | null = null;

  constructor(readonly label: string) {
    super();
  }

  send(data: Uint8Array<ArrayBuffer> | ArrayBuffer | string): void {
    if (this.readyState !== "open") throw new DOMException("channel not open", "InvalidStateError");
    const copy = typeof data === "string"
      ? data
      : data instanceof ArrayBuffer
      ? data.slice(0)
      : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    const peer = this.peer;
    setTimeout(() => {
      if (peer?.readyState === "open") {
        peer.dispatchEvent(new MessageEvent("message", { data: copy }));
      }
    }, 0);
  }

  open(): void {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }

  close(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    setTimeout(() => this.dispatchEvent(new Event("close")), 0);
    this.peer?.close();
  }
}

/** Config the twin understands: the address its made-up host candidate carries. */
export interface MemoryRTCConfiguration extends RTCConfiguration {
  candidateAddress?: string;
}

/** An in-memory `RTCPeerConnection` (see the module doc). */
export class MemoryRTCPeerConnection extends EventTarget {
  /** The host candidate address new connections advertise (a test may change it). */
  static candidateAddress = "203.0.113.7";
  static open = 0;

  readonly id = `m${nextId++}`;
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: "offer" | "answer"; sdp: string } | null = null;
  iceGatheringState = "new";
  connectionState = "new";
  readonly #channels: MemoryRTCDataChannel[] = [];
  readonly #address: string;

  constructor(config: MemoryRTCConfiguration = {}) {
    super();
    this.#address = config.candidateAddress ?? MemoryRTCPeerConnection.candidateAddress;
    peers.set(this.id, this);
    MemoryRTCPeerConnection.open++;
  }

  createDataChannel(label: string): MemoryRTCDataChannel {
    const channel = new MemoryRTCDataChannel(label);
    this.#channels.push(channel);
    return channel;
  }

  #sdp(type: string): { type: string; sdp: string } {
    const sdp = [
      "v=0",
      `o=- ${this.id} 2 IN IP4 127.0.0.1`,
      "s=-",
      `a=memory-peer:${this.id}`,
      `a=candidate:1 1 udp 2122260223 ${this.#address} 9 typ host`,
      "",
    ].join("\r\n");
    return { type, sdp };
  }

  createOffer(): Promise<{ type: string; sdp: string }> {
    return Promise.resolve(this.#sdp("offer"));
  }

  createAnswer(): Promise<{ type: string; sdp: string }> {
    return Promise.resolve(this.#sdp("answer"));
  }

  setLocalDescription(description: { type: string; sdp?: string }): Promise<void> {
    this.localDescription = { type: description.type, sdp: description.sdp ?? "" };
    this.iceGatheringState = "complete";
    setTimeout(() => {
      this.dispatchEvent(new Event("icegatheringstatechange"));
      this.dispatchEvent(event("icecandidate", { candidate: null }));
    }, 0);
    return Promise.resolve();
  }

  setRemoteDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<void> {
    if (this.connectionState === "closed") return Promise.reject(new Error("closed"));
    this.remoteDescription = description;
    if (description.type === "answer") {
      const id = /a=memory-peer:(\S+)/.exec(description.sdp)?.[1];
      const answerer = id ? peers.get(id) : undefined;
      if (answerer) setTimeout(() => this.#connect(answerer), 0);
    }
    return Promise.resolve();
  }

  #connect(answerer: MemoryRTCPeerConnection): void {
    if (this.connectionState === "closed" || answerer.connectionState === "closed") return;
    this.connectionState = answerer.connectionState = "connected";
    for (const ours of this.#channels) {
      const theirs = answerer.createDataChannel(ours.label);
      ours.peer = theirs;
      theirs.peer = ours;
      answerer.dispatchEvent(event("datachannel", { channel: theirs }));
      ours.open();
      theirs.open();
    }
  }

  close(): void {
    if (this.connectionState === "closed") return;
    this.connectionState = "closed";
    MemoryRTCPeerConnection.open--;
    peers.delete(this.id);
    for (const c of this.#channels) c.close();
  }
}
