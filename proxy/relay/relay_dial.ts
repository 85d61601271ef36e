/**
 * How the binary dials the relay: a `WebSocketStream` when the runtime has one (Deno does), so
 * that reading the relay is pulled by the data channel's pace and TCP flow control holds the
 * server back when a client is slow; the plain WebSocket Conn of lib/net otherwise (its reads
 * are queued as they arrive). Both give a {@link Conn} of binary chunks.
 *
 * @module
 */
import type { Conn } from "../../lib/net/types.ts";
import { NamedAddr } from "../../lib/net/addr.ts";
import { dialWebSocket } from "../../lib/net/websocket.ts";

interface WebSocketStreamLike {
  readonly opened: Promise<{
    readable: ReadableStream<ArrayBuffer | string>;
    writable: WritableStream<Uint8Array>;
  }>;
  readonly closed: Promise<unknown>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

export type WebSocketStreamCtor = new (
  url: string,
  options?: { signal?: AbortSignal },
) => WebSocketStreamLike;

const encoder = new TextEncoder();

/**
 * Opens the relay WebSocket; rejects if it is not open within `timeoutMs`. `Ctor` is the
 * runtime's `WebSocketStream` (the web page passes its own, proxy/web/env.ts).
 */
export async function dialRelay(
  url: string,
  signal: AbortSignal,
  timeoutMs = 10_000,
  Ctor = (globalThis as { WebSocketStream?: WebSocketStreamCtor }).WebSocketStream,
): Promise<Conn> {
  if (!Ctor) return await dialWebSocket(url, { signal, timeoutMs });
  // The socket's signal may fire only while it opens: Deno 2.9's WebSocketStream aborting a
  // socket it has closed throws an uncaught BadResource (the proxy stopping after it closed
  // a relay dialed early, docs/PROXY.md "Latency"). Once open, close() ends it.
  const opening = new AbortController();
  const abort = () => opening.abort(signal.reason);
  const timer = setTimeout(abort, timeoutMs);
  signal.addEventListener("abort", abort, { once: true });
  if (signal.aborted) abort();
  const wss = new Ctor(url, { signal: opening.signal });
  wss.closed.catch(() => {});
  let opened;
  try {
    opened = await wss.opened;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", abort);
  }
  const { readable, writable } = opened;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      wss.close();
    } catch { /* already closed */ }
  };
  return {
    // Cancelling our readable must not cancel the WebSocketStream's: Deno 2.9's `pull` still
    // enqueues the message it was waiting for into the cancelled stream, and that TypeError is
    // uncaught (it ended the proxy when a client left mid-download). close() ends the socket.
    readable: readable.pipeThrough(
      new TransformStream<ArrayBuffer | string, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(
            typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk),
          );
        },
      }),
      { preventCancel: true },
    ),
    writable,
    localAddr: new NamedAddr("websocket", "local"),
    remoteAddr: new NamedAddr("websocket", url),
    close,
  };
}
