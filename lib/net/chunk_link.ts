/**
 * Adapters between a {@link Conn} (web streams) and a {@link ChunkLink} (one chunk at a
 * time), so one pump serves both: the in-memory twins and tests speak Conn, the server's
 * WebSocket listener hands out light links.
 *
 * @module
 */
import { ClosedError } from "./errors.ts";
import type { Addr, ChunkLink, Conn } from "./types.ts";

/** A link over `conn`'s streams; closing it closes `conn` and ends a pending read or write. */
export function connLink(conn: Conn): ChunkLink {
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  let closed = false;
  return {
    async read() {
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    write(chunk) {
      if (closed) throw new ClosedError("conn");
      return writer.write(chunk);
    },
    close() {
      if (closed) return;
      closed = true;
      conn.close();
      // Releasing the locks (rather than cancelling the streams) ends a pending read or
      // write at once and leaves the streams to the Conn, which closes them itself.
      reader.releaseLock();
      writer.releaseLock();
    },
  };
}

/** A Conn over `link` (reads one chunk per pull; each written chunk is copied first). */
export function linkConn(link: ChunkLink, localAddr: Addr, remoteAddr: Addr): Conn {
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await link.read();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel: () => link.close(),
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => link.write(chunk.slice()),
    close: () => link.close(),
    abort: () => link.close(),
  });
  return { readable, writable, localAddr, remoteAddr, close: () => link.close() };
}
