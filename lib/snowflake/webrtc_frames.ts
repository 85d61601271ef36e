/**
 * The framing between a process and its WebRTC host process (lib/snowflake/webrtc_isolated.ts,
 * lib/snowflake/webrtc_host.ts): `u32 length | u8 kind | u32 id | payload`, big-endian, where
 * `length` counts kind, id and payload. Control frames carry JSON, data frames raw bytes.
 *
 * @module
 */
import { type ByteConn, writeAll } from "../net/io.ts";

/**
 * Frame kinds. `id` names a peer connection, a data channel or a call, as the kind says. The
 * owner numbers them from 1 up; the host numbers the channels the remote opens from
 * {@link HOST_IDS} up, so the two never meet.
 */
export const Kind = {
  // To the host.
  /** id: peer connection; JSON: its configuration. */
  NewPeer: 1,
  /** id: call; JSON: {@link CallRequest}. */
  Call: 2,
  /** id: peer connection. */
  ClosePeer: 3,
  /** id: data channel; JSON: {@link NewChannelRequest}. */
  NewChannel: 4,
  /** id: data channel; bytes: one message. */
  Send: 5,
  /** id: data channel. */
  CloseChannel: 6,
  // From the host.
  /** id: call; JSON: {@link CallResult}. */
  Result: 10,
  /** id: peer connection; JSON: {@link PeerEvent}. */
  PeerEvent: 11,
  /** id: data channel; JSON: {@link ChannelEvent}. */
  ChannelEvent: 12,
  /** id: data channel; bytes: one message received. */
  Message: 13,
  /** id: data channel; u32: bytes of its {@link Kind.Send} frames handed to the channel. */
  Sent: 14,
  /** id: data channel (the host's number); JSON: {@link ChannelAnnouncement}. */
  DataChannel: 15,
} as const;
export type Kind = typeof Kind[keyof typeof Kind];

/** The methods of a peer connection that cross as calls. */
export type PeerMethod =
  | "createOffer"
  | "createAnswer"
  | "setLocalDescription"
  | "setRemoteDescription";

export interface CallRequest {
  peer: number;
  method: PeerMethod;
  arg?: unknown;
}

export interface NewChannelRequest {
  peer: number;
  label: string;
  init?: { ordered?: boolean };
}

/** A peer connection's observable state, sent with every event and call result. */
export interface PeerState {
  connectionState: string;
  iceConnectionState: string;
  iceGatheringState: string;
  signalingState: string;
  localDescription: { type: string; sdp: string } | null;
  remoteDescription: { type: string; sdp: string } | null;
}

export interface CallResult {
  value?: unknown;
  error?: { name: string; message: string };
  state?: PeerState;
}

export interface PeerEvent {
  type: string;
  state: PeerState;
  /** `icecandidate` only: the candidate, or null at the end of gathering. */
  candidate?: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null } | null;
}

/** The first id of the channels the host numbers (those the remote opens). */
export const HOST_IDS = 0x80000000;

/** A channel the remote opened (the peer connection's `datachannel` event). */
export interface ChannelAnnouncement {
  peer: number;
  label: string;
  readyState: "connecting" | "open" | "closing" | "closed";
}

export interface ChannelEvent {
  type: "open" | "close" | "error";
}

const HEADER = 9;

/** One frame, ready to write. */
export function frame(kind: Kind, id: number, payload?: Uint8Array | unknown): Uint8Array {
  const body = payload === undefined
    ? new Uint8Array(0)
    : payload instanceof Uint8Array
    ? payload
    : new TextEncoder().encode(JSON.stringify(payload));
  const out = new Uint8Array(HEADER + body.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, 5 + body.byteLength);
  view.setUint8(4, kind);
  view.setUint32(5, id);
  out.set(body, HEADER);
  return out;
}

/** A {@link Kind.Sent} frame. */
export function sentFrame(channel: number, bytes: number): Uint8Array {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, bytes);
  return frame(Kind.Sent, channel, n);
}

/** A decoded frame; `payload` is its own copy. */
export interface Frame {
  kind: Kind;
  id: number;
  payload: Uint8Array<ArrayBuffer>;
}

/** The JSON of a control frame. */
export function json<T>(f: Frame): T {
  return JSON.parse(new TextDecoder().decode(f.payload)) as T;
}

/** The count of a {@link Kind.Sent} frame. */
export function sentBytes(f: Frame): number {
  return new DataView(f.payload.buffer).getUint32(0);
}

/** One end of the link (a Deno.Conn): reads, whole-or-partial writes, close. */
export interface FrameConn extends ByteConn {
  close(): void;
}

/**
 * Hands `handle` each frame read off `conn` until it ends. Reads go into one buffer, grown to
 * the largest frame: the payloads handed on are copies.
 */
export async function readFrames(
  conn: Pick<ByteConn, "read">,
  handle: (f: Frame) => void,
): Promise<void> {
  let buf = new Uint8Array(1 << 18);
  let view = new DataView(buf.buffer);
  let start = 0;
  let end = 0;
  for (;;) {
    let need = 4;
    while (end - start >= 4) {
      const length = view.getUint32(start);
      need = 4 + length;
      if (end - start < need) break;
      handle({
        kind: view.getUint8(start + 4) as Kind,
        id: view.getUint32(start + 5),
        payload: buf.slice(start + HEADER, start + need),
      });
      start += need;
      need = 4;
    }
    if (start === end) {
      start = end = 0;
    } else if (start + need > buf.byteLength) {
      const kept = buf.subarray(start, end);
      if (need > buf.byteLength) {
        buf = new Uint8Array(need);
        view = new DataView(buf.buffer);
      }
      buf.set(kept);
      end -= start;
      start = 0;
    }
    const n = await conn.read(buf.subarray(end));
    if (n === null) return;
    end += n;
  }
}

/**
 * Writes frames in batches: frames queued in one task leave in one write, and a write waits
 * for the one before. `failed` is called once if the link breaks (the other process died).
 */
export class FrameWriter {
  #conn: Promise<Pick<FrameConn, "write" | "close">>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #flushing = false;
  #broken = false;

  /** `conn` may be a promise (a link still being made): frames wait for it. */
  constructor(
    conn: Pick<FrameConn, "write" | "close"> | Promise<Pick<FrameConn, "write" | "close">>,
    readonly failed: () => void = () => {},
  ) {
    this.#conn = Promise.resolve(conn);
    this.#conn.catch(() => {});
  }

  write(f: Uint8Array): void {
    if (this.#broken) return;
    this.#queue.push(f);
    this.#queued += f.byteLength;
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0 && !this.#broken) {
      const parts = this.#queue;
      const out = parts.length === 1 ? parts[0]! : new Uint8Array(this.#queued);
      if (parts.length > 1) {
        let off = 0;
        for (const p of parts) {
          out.set(p, off);
          off += p.byteLength;
        }
      }
      this.#queue = [];
      this.#queued = 0;
      try {
        await writeAll(await this.#conn, out);
      } catch {
        this.#broken = true;
        this.failed();
      }
    }
    this.#flushing = false;
  }

  /** Closes the link once queued frames are written. */
  async close(): Promise<void> {
    while (this.#flushing) await new Promise((r) => setTimeout(r, 1));
    try {
      (await this.#conn).close();
    } catch { /* already closed, or never made */ }
  }
}
