/**
 * A {@link Conn} over a WebSocket (the global WHATWG `WebSocket`, client or server side):
 * each binary message read is one chunk, each chunk written is one binary message.
 *
 * - Reads: messages are queued as they arrive (the WebSocket API cannot pause a peer), so
 *   the consumer must keep reading; text messages are delivered as their UTF-8 bytes. A
 *   consumer that falls more than `readHighWaterMark` bytes behind loses the connection:
 *   `readable` errors with a RangeError and the socket closes with {@link READ_QUEUE_FULL}.
 * - Writes: `write()` resolves once the message is queued and `bufferedAmount` is below the
 *   high-water mark, polled every few milliseconds (the API has no drain event).
 * - Close: `close()`, cancelling `readable` or closing/aborting `writable` closes the socket
 *   (a WebSocket has no half-close). A clean close ends `readable`; an unclean one errors it
 *   with {@link ClosedError}. Writes after close reject with {@link ClosedError}.
 *
 * @example
 * ```ts ignore
 * const conn = await dialWebSocket("ws://127.0.0.1:8080/");
 * const w = conn.writable.getWriter();
 * await w.write(new Uint8Array([1, 2, 3]));
 * ```
 *
 * @module
 */
import type { Addr, Conn } from "./types.ts";
import { NamedAddr } from "./addr.ts";
import { ClosedError, TimeoutError } from "./errors.ts";

/** Options for {@link webSocketConn}. */
export interface WebSocketConnOptions {
  /** Writes wait while more than this many bytes are unsent. Default 1 MiB. */
  highWaterMark?: number;
  /** Most bytes received and not yet read before the connection is dropped. Default 8 MiB. */
  readHighWaterMark?: number;
  /** How often `bufferedAmount` is polled while above the mark, in ms. Default 2. */
  pollMs?: number;
  localAddr?: Addr;
  remoteAddr?: Addr;
}

/** A Conn over a WebSocket, plus the socket itself. */
export interface WebSocketConn extends Conn {
  readonly socket: WebSocket;
}

/** Close code sent when the reader fell behind (1009 "too big", in the application range). */
export const READ_QUEUE_FULL = 4009;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encoder = new TextEncoder();

/**
 * Wraps a WebSocket that is connecting or open (e.g. from `Deno.upgradeWebSocket`).
 * Writes issued while it is still connecting wait for it to open.
 */
export function webSocketConn(ws: WebSocket, options: WebSocketConnOptions = {}): WebSocketConn {
  const highWater = options.highWaterMark ?? 1 << 20;
  const readHighWater = options.readHighWaterMark ?? 8 << 20;
  const pollMs = options.pollMs ?? 2;
  ws.binaryType = "arraybuffer";
  const addr = new NamedAddr("websocket", ws.url || "websocket");
  let closed = false;
  const opened = new Promise<void>((resolve, reject) => {
    if (ws.readyState === WebSocket.OPEN) return resolve();
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("close", () => reject(new ClosedError("websocket")), { once: true });
  });
  opened.catch(() => {});

  const close = () => {
    closed = true;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
  };

  // Also set when the reader cancels: a close or message event after that must not touch the
  // controller (its TypeError would be uncaught, and end a Deno process).
  let done = false;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      ws.addEventListener("message", (ev: MessageEvent) => {
        if (done) return;
        const d = ev.data;
        const chunk = typeof d === "string" ? encoder.encode(d) : new Uint8Array(d as ArrayBuffer);
        if (chunk.length > controller.desiredSize!) {
          done = true;
          controller.error(new RangeError(`websocket read queue over ${readHighWater} bytes`));
          closed = true;
          ws.close(READ_QUEUE_FULL, "read queue full");
          return;
        }
        controller.enqueue(chunk);
      });
      ws.addEventListener("close", (ev: CloseEvent) => {
        closed = true;
        if (done) return;
        done = true;
        if (ev.wasClean) controller.close();
        else controller.error(new ClosedError("websocket"));
      }, { once: true });
    },
    cancel() {
      done = true;
      close();
    },
  }, { highWaterMark: readHighWater, size: (chunk) => chunk.byteLength });

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      await opened;
      if (closed || ws.readyState !== WebSocket.OPEN) throw new ClosedError("websocket");
      ws.send(chunk as Uint8Array<ArrayBuffer>);
      while (ws.bufferedAmount > highWater) {
        if (ws.readyState !== WebSocket.OPEN) throw new ClosedError("websocket");
        await sleep(pollMs);
      }
    },
    async close() {
      // Let queued messages go out before the close frame.
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) await sleep(pollMs);
      close();
    },
    abort: close,
  });

  return {
    socket: ws,
    readable,
    writable,
    localAddr: options.localAddr ?? new NamedAddr("websocket", "local"),
    remoteAddr: options.remoteAddr ?? addr,
    close,
  };
}

/** Options for {@link dialWebSocket}. */
export interface DialWebSocketOptions extends WebSocketConnOptions {
  protocols?: string | string[];
  signal?: AbortSignal;
  /** Give up if the socket has not opened by then. Default 30 s. */
  timeoutMs?: number;
}

/** Opens a WebSocket to `url` and resolves with its Conn once the handshake completes. */
export async function dialWebSocket(
  url: string | URL,
  options: DialWebSocketOptions = {},
): Promise<WebSocketConn> {
  const ws = new WebSocket(url, options.protocols);
  ws.binaryType = "arraybuffer";
  const signal = options.signal;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new TimeoutError(`WebSocket to ${url}`)),
      options.timeoutMs ?? 30_000,
    );
    const onAbort = () => fail(signal?.reason ?? new TimeoutError(`WebSocket to ${url}`));
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onClose);
    };
    function fail(e: unknown) {
      cleanup();
      try {
        ws.close();
      } catch { /* never opened */ }
      reject(e);
    }
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onClose = () => fail(new ClosedError(`WebSocket to ${url}`));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onClose);
  });
  return webSocketConn(ws, { ...options, remoteAddr: options.remoteAddr ?? urlAddr(url) });
}

function urlAddr(url: string | URL): Addr {
  return new NamedAddr("websocket", String(url));
}
