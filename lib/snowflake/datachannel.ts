/**
 * A {@link Conn} over a WebRTC data channel (@roamhq/wrtc or a browser's), the way Snowflake
 * carries its byte stream: each message is a chunk of the stream, message boundaries mean nothing.
 *
 * - Writes are cut into messages of at most `maxMessageSize` bytes (16 KiB by default, the size
 *   every SCTP stack accepts), and wait while `bufferedAmount` is above the high-water mark. The
 *   mark is polled: @roamhq/wrtc never fires `bufferedamountlow`.
 * - Reads: messages are queued as they arrive (the API cannot pause the peer), so the consumer
 *   must keep reading.
 * - Wrap the channel before it opens — the offerer right after `createDataChannel`, the answerer
 *   inside its `datachannel` event handler — or messages delivered in between are lost (the
 *   Snowflake client writes its token the moment the channel opens). A write issued while the
 *   channel is still connecting waits for it to open.
 * - Closing the conn (`close()`, cancelling `readable`, aborting `writable`) closes the channel
 *   and calls `onClose` once, where the owner closes the peer connection. The peer closing the
 *   channel ends `readable` and also calls `onClose`.
 *
 * @module
 */
import type { Addr, Conn } from "../net/types.ts";
import { NamedAddr } from "../net/addr.ts";
import { ClosedError } from "../net/errors.ts";
import { type DataChannel, globalTimers, sleep, type Timers } from "./webrtc.ts";

/** Options for {@link dataChannelConn}. */
export interface DataChannelConnOptions {
  /** Writes wait while more than this many bytes are queued in the channel. Default 1 MiB. */
  highWaterMark?: number;
  /** How often `bufferedAmount` is polled while above the mark, in ms. Default 1. */
  pollMs?: number;
  /** The largest message sent. Default 16384. */
  maxMessageSize?: number;
  /** Called once when the conn closes, from either side (close the peer connection here). */
  onClose?: () => void;
  /** Counts bytes as they cross the channel (the proxy's summary and metrics). */
  onRead?: (bytes: number) => void;
  onWrite?: (bytes: number) => void;
  localAddr?: Addr;
  remoteAddr?: Addr;
  timers?: Timers;
}

/** A Conn over a data channel, plus the channel itself. */
export interface DataChannelConn extends Conn {
  readonly channel: DataChannel;
  /** Resolves when the conn has closed, from either side. */
  readonly closed: Promise<void>;
}

/** Wraps a data channel that is connecting or open. */
export function dataChannelConn(
  dc: DataChannel,
  options: DataChannelConnOptions = {},
): DataChannelConn {
  const highWater = options.highWaterMark ?? 1 << 20;
  const pollMs = options.pollMs ?? 1;
  const maxMessage = options.maxMessageSize ?? 16384;
  const timers = options.timers ?? globalTimers;
  dc.binaryType = "arraybuffer";

  let isClosed = false;
  let resolveClosed = () => {};
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let endReadable = () => {};

  const onOpen = () => resolveOpen();
  let resolveOpen = () => {};
  const opened = new Promise<void>((resolve) => {
    resolveOpen = resolve;
    if (dc.readyState === "open") resolve();
  });

  const onMessage = (ev: Event) => {
    const d = (ev as MessageEvent).data;
    const chunk = typeof d === "string"
      ? new TextEncoder().encode(d)
      : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array((d as ArrayBufferView).buffer.slice(0)) as Uint8Array<ArrayBuffer>;
    options.onRead?.(chunk.byteLength);
    enqueue(chunk);
  };
  let enqueue = (_c: Uint8Array) => {};

  const finish = () => {
    if (isClosed) return;
    isClosed = true;
    dc.removeEventListener("open", onOpen);
    dc.removeEventListener("message", onMessage);
    dc.removeEventListener("close", finish);
    dc.removeEventListener("error", finish);
    try {
      dc.close();
    } catch { /* already closed */ }
    resolveOpen();
    endReadable();
    resolveClosed();
    options.onClose?.();
  };

  dc.addEventListener("open", onOpen);
  dc.addEventListener("message", onMessage);
  dc.addEventListener("close", finish);
  dc.addEventListener("error", finish);

  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      let done = false;
      enqueue = (chunk) => {
        if (!done) controller.enqueue(chunk);
      };
      endReadable = () => {
        if (done) return;
        done = true;
        try {
          controller.close();
        } catch { /* cancelled */ }
      };
    },
    cancel: finish,
  }, { highWaterMark: Infinity });

  // @roamhq/wrtc answers readyState, bufferedAmount and send() each with a blocking call to
  // libwebrtc's network thread, which is busy with the traffic itself: the client's main thread
  // spent half of a download waiting in them. bufferedAmount grows only by our sends, so the
  // last value read plus what was sent since bounds it from above, and it is read only once
  // that bound passes the mark; send() throws when the channel is no longer open.
  let bufferedBound = 0;
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      await opened;
      for (let off = 0; off < chunk.byteLength; off += maxMessage) {
        if (isClosed) throw new ClosedError("data channel");
        const piece = chunk.subarray(off, Math.min(off + maxMessage, chunk.byteLength));
        try {
          dc.send(piece as Uint8Array<ArrayBuffer>);
        } catch {
          throw new ClosedError("data channel");
        }
        options.onWrite?.(piece.byteLength);
        bufferedBound += piece.byteLength;
        if (bufferedBound <= highWater) continue;
        while ((bufferedBound = dc.bufferedAmount) > highWater) {
          if (isClosed || dc.readyState !== "open") throw new ClosedError("data channel");
          await sleep(pollMs, timers);
        }
      }
    },
    async close() {
      // Let queued messages go out before the channel closes.
      while (!isClosed && dc.readyState === "open" && dc.bufferedAmount > 0) {
        await sleep(pollMs, timers);
      }
      finish();
    },
    abort: finish,
  });

  return {
    channel: dc,
    closed,
    readable,
    writable,
    localAddr: options.localAddr ?? new NamedAddr("webrtc", "local"),
    remoteAddr: options.remoteAddr ?? new NamedAddr("webrtc", dc.label),
    close: finish,
  };
}
