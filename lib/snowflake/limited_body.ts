/** A response body read whole, up to a limit (Go's `limitedRead`). @module */
import { concatBytes } from "../net/bytes.ts";

/** What is read of a body: web and node:stream/web ReadableStreams alike. */
interface ByteStream {
  getReader(): {
    read(): Promise<{ done: true; value?: unknown } | { done: false; value: Uint8Array }>;
    cancel(): Promise<void>;
  };
}

/** Reads `body` to its end; rejects with a RangeError past `limit` bytes. */
export async function readLimited(body: ByteStream | null, limit: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new RangeError(`HTTP response exceeds ${limit} bytes`);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}
