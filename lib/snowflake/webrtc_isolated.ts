/**
 * A {@link WebRTC} whose peer connections live in a host process (lib/snowflake/webrtc_host.ts),
 * so that @roamhq/wrtc 0.10.0's crash — `RTCDataChannel.send()` racing the remote's close
 * dereferences a pointer libwebrtc's signaling thread has just nulled, SIGSEGV (docs/client.md
 * "WebRTC in a process of its own") — ends that process, not this one. Its peer connections
 * then report `closed` and their channels close, as if every proxy had gone at once; the next
 * peer connection starts a new host. A channel the remote opens (the answerer's, as in the
 * proxy) comes as the peer connection's `datachannel` event, as in the browser.
 *
 * The objects mirror the host's: attributes are the state the host sent with its last event or
 * call result; `send()` is queued to the host, and `bufferedAmount` counts what was sent and
 * not yet handed to libwebrtc's channel (the host holds at most its high-water mark more).
 *
 * @module
 */
import {
  type CallResult,
  type ChannelAnnouncement,
  type ChannelEvent,
  type Frame,
  frame,
  type FrameConn,
  FrameWriter,
  json,
  Kind,
  type PeerEvent,
  type PeerMethod,
  type PeerState,
  readFrames,
  sentBytes,
} from "./webrtc_frames.ts";
import type {
  DataChannel,
  PeerConnection,
  PeerConnectionConfig,
  SessionDescription,
  WebRTC,
} from "./webrtc.ts";

/** A started host process. */
export interface HostProcess {
  readonly pid: number;
  /** The frames' link to it, once it connected (lib/snowflake/webrtc_link.ts). */
  readonly link: Promise<FrameConn>;
  /** Resolves when it exits: its exit code, or the signal that ended it. */
  readonly status: Promise<{ code: number; signal: string | null }>;
  /** Whether it keeps this process's event loop alive (only while it has peer connections). */
  ref(): void;
  unref(): void;
  kill(): void;
}

/** How long a host may take to exit once its link is closed before it is killed. */
const STOP_GRACE_MS = 2000;

function event<T extends object>(type: string, fields?: T): Event {
  return fields ? Object.assign(new Event(type), fields) : new Event(type);
}

/** One host process and the objects it serves. */
class Host {
  readonly out: FrameWriter;
  readonly peers = new Map<number, RemotePeer>();
  readonly channels = new Map<number, RemoteChannel>();
  readonly calls = new Map<number, { peer: RemotePeer; resolve(r: CallResult): void }>();
  dead = false;
  #nextId = 1;

  constructor(readonly process: HostProcess, log: (m: string) => void) {
    this.out = new FrameWriter(process.link);
    process.unref();
    this.#read();
    process.status.then(({ code, signal }) => {
      this.dead = true;
      const lost = [...this.peers.values()].filter((p) => p.connectionState !== "closed").length;
      if (lost > 0 || signal !== null || code !== 0) {
        log(
          `WebRTC host process ${process.pid} ended (${signal ?? `exit code ${code}`}); ` +
            `${lost} peer connection${lost === 1 ? "" : "s"} lost with it`,
        );
      }
      for (const c of this.calls.values()) {
        c.resolve({ error: { name: "InvalidStateError", message: "WebRTC host process ended" } });
      }
      this.calls.clear();
      for (const ch of [...this.channels.values()]) ch.ended();
      for (const p of [...this.peers.values()]) p.ended();
    });
  }

  async #read(): Promise<void> {
    try {
      await readFrames(await this.process.link, (f) => this.#handle(f));
    } catch { /* the host died or never connected; status tells */ }
  }

  #handle(f: Frame): void {
    switch (f.kind) {
      case Kind.Message:
        this.channels.get(f.id)?.received(f.payload);
        break;
      case Kind.Sent:
        this.channels.get(f.id)?.handed(sentBytes(f));
        break;
      case Kind.ChannelEvent:
        this.channels.get(f.id)?.changed(json<ChannelEvent>(f));
        break;
      case Kind.PeerEvent:
        this.peers.get(f.id)?.changed(json<PeerEvent>(f));
        break;
      case Kind.DataChannel: {
        const ann = json<ChannelAnnouncement>(f);
        const peer = this.peers.get(ann.peer);
        if (peer) peer.announced(new RemoteChannel(this, f.id, ann.label), ann.readyState);
        else this.out.write(frame(Kind.CloseChannel, f.id));
        break;
      }
      case Kind.Result: {
        const call = this.calls.get(f.id);
        this.calls.delete(f.id);
        call?.resolve(json<CallResult>(f));
        break;
      }
    }
  }

  nextId(): number {
    return this.#nextId++;
  }

  call(peer: RemotePeer, method: PeerMethod, arg?: unknown): Promise<CallResult> {
    if (this.dead) {
      return Promise.resolve({ error: { name: "InvalidStateError", message: "host ended" } });
    }
    const id = this.nextId();
    return new Promise((resolve) => {
      this.calls.set(id, { peer, resolve });
      this.out.write(frame(Kind.Call, id, { peer: peer.id, method, arg }));
    });
  }

  /** Closes its link (it closes its peer connections and exits); kills it if it lingers. */
  async stop(): Promise<void> {
    await this.out.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), STOP_GRACE_MS));
    if (await Promise.race([this.process.status, late]) === "late") {
      try {
        this.process.kill();
      } catch { /* it has just exited */ }
      await this.process.status;
    }
    clearTimeout(timer);
  }

  /** Keeps the event loop alive while some peer connection is open (libwebrtc does so too). */
  updateRef(): void {
    const open = [...this.peers.values()].some((p) => p.connectionState !== "closed");
    if (open) this.process.ref();
    else this.process.unref();
  }
}

const NEW_STATE: PeerState = {
  connectionState: "new",
  iceConnectionState: "new",
  iceGatheringState: "new",
  signalingState: "stable",
  localDescription: null,
  remoteDescription: null,
};

/** A peer connection in the host. */
class RemotePeer extends EventTarget implements PeerConnection {
  #state: PeerState = NEW_STATE;

  constructor(readonly host: Host, readonly id: number, config: PeerConnectionConfig) {
    super();
    host.peers.set(id, this);
    host.out.write(frame(Kind.NewPeer, id, config));
    host.updateRef();
    if (host.dead) this.ended();
  }

  get connectionState(): string {
    return this.#state.connectionState;
  }
  get iceConnectionState(): string {
    return this.#state.iceConnectionState;
  }
  get iceGatheringState(): string {
    return this.#state.iceGatheringState;
  }
  get signalingState(): string {
    return this.#state.signalingState;
  }
  get localDescription(): { type: string; sdp: string } | null {
    return this.#state.localDescription;
  }
  get remoteDescription(): { type: string; sdp: string } | null {
    return this.#state.remoteDescription;
  }

  async #call<T>(method: PeerMethod, arg?: unknown): Promise<T> {
    const r = await this.host.call(this, method, arg);
    if (r.state && this.#state.connectionState !== "closed") this.#state = r.state;
    if (r.error) throw new DOMException(r.error.message, r.error.name);
    return r.value as T;
  }

  createOffer(): Promise<{ type: string; sdp?: string }> {
    return this.#call("createOffer");
  }
  createAnswer(): Promise<{ type: string; sdp?: string }> {
    return this.#call("createAnswer");
  }
  async setLocalDescription(description: { type: string; sdp?: string }): Promise<void> {
    await this.#call("setLocalDescription", { type: description.type, sdp: description.sdp });
  }
  async setRemoteDescription(description: SessionDescription): Promise<void> {
    await this.#call("setRemoteDescription", { type: description.type, sdp: description.sdp });
  }

  createDataChannel(label: string, init?: { ordered?: boolean }): DataChannel {
    const ch = new RemoteChannel(this.host, this.host.nextId(), label);
    this.host.out.write(frame(Kind.NewChannel, ch.id, { peer: this.id, label, init }));
    if (this.host.dead || this.connectionState === "closed") ch.ended();
    return ch;
  }

  close(): void {
    if (this.#state.connectionState === "closed") return;
    this.#state = { ...this.#state, connectionState: "closed", signalingState: "closed" };
    this.host.out.write(frame(Kind.ClosePeer, this.id));
    this.host.peers.delete(this.id);
    this.host.updateRef();
  }

  /** The remote opened `channel`. */
  announced(channel: RemoteChannel, readyState: DataChannel["readyState"]): void {
    channel.readyState = readyState;
    this.dispatchEvent(event("datachannel", { channel }));
  }

  changed(ev: PeerEvent): void {
    if (this.#state.connectionState === "closed") return;
    this.#state = ev.state;
    this.dispatchEvent(
      ev.type === "icecandidate"
        ? event(ev.type, { candidate: ev.candidate ?? null })
        : event(ev.type),
    );
    if (this.#state.connectionState === "closed") {
      this.host.peers.delete(this.id);
      this.host.updateRef();
    }
  }

  /** The host is gone: the connection failed and is closed. */
  ended(): void {
    if (this.#state.connectionState === "closed") return;
    this.#state = {
      ...this.#state,
      connectionState: "closed",
      iceConnectionState: "closed",
      signalingState: "closed",
    };
    this.host.peers.delete(this.id);
    this.dispatchEvent(event("iceconnectionstatechange"));
    this.dispatchEvent(event("connectionstatechange"));
  }
}

/** A data channel in the host. */
class RemoteChannel extends EventTarget implements DataChannel {
  readyState: DataChannel["readyState"] = "connecting";
  binaryType = "arraybuffer";
  #unsent = 0;

  constructor(readonly host: Host, readonly id: number, readonly label: string) {
    super();
    host.channels.set(id, this);
  }

  get bufferedAmount(): number {
    return this.#unsent;
  }

  send(data: Uint8Array<ArrayBuffer>): void {
    if (this.readyState !== "open") {
      throw new DOMException("RTCDataChannel.readyState is not 'open'", "InvalidStateError");
    }
    this.host.out.write(frame(Kind.Send, this.id, data));
    this.#unsent += data.byteLength;
  }

  close(): void {
    if (this.readyState === "closing" || this.readyState === "closed") return;
    this.readyState = "closing";
    this.host.out.write(frame(Kind.CloseChannel, this.id));
  }

  received(data: Uint8Array<ArrayBuffer>): void {
    this.dispatchEvent(event("message", { data: data.buffer }));
  }

  handed(bytes: number): void {
    this.#unsent = Math.max(0, this.#unsent - bytes);
  }

  changed(ev: ChannelEvent): void {
    if (this.readyState === "closed") return;
    if (ev.type === "open") this.readyState = "open";
    if (ev.type === "close") return this.ended();
    this.dispatchEvent(event(ev.type));
  }

  /** Closed, by either side or with the host. */
  ended(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.#unsent = 0;
    this.host.channels.delete(this.id);
    this.dispatchEvent(event("close"));
  }
}

/**
 * Peer connections in a host process started by `spawn` when the first one is made, and again
 * after it ended. `log` hears of a host that ended with peer connections open (never an address).
 */
export class IsolatedWebRTC implements WebRTC {
  #host: Host | null = null;

  /** `log` may be replaced later (the client starts its host before its log exists). */
  constructor(readonly spawn: () => HostProcess, public log: (m: string) => void = () => {}) {}

  /** Starts a host now if none runs, so that the next peer connection need not wait for it. */
  start(): void {
    this.#running();
  }

  newPeerConnection(config: PeerConnectionConfig): PeerConnection {
    const host = this.#running();
    return new RemotePeer(host, host.nextId(), config);
  }

  #running(): Host {
    if (!this.#host || this.#host.dead) this.#host = new Host(this.spawn(), (m) => this.log(m));
    return this.#host;
  }

  /** Ends the host process, if one runs, and waits for it: nothing of the client outlives it. */
  async stop(): Promise<void> {
    const host = this.#host;
    this.#host = null;
    if (host && !host.dead) await host.stop();
  }

  /** The pid of the current host process, if one is running. */
  get hostPid(): number | undefined {
    return this.#host && !this.#host.dead ? this.#host.process.pid : undefined;
  }
}
