/**
 * Frees each chunk's memory once written, for pipes whose chunks nobody else holds (a relay's
 * freshly received messages). V8 frees an ArrayBuffer only when a garbage collection finds it
 * unreachable, and a relay allocates little else: one 16–64 KiB buffer per message against a
 * few hundred bytes of JS objects, so between two scavenges of a 1 MiB young generation tens of
 * MB of dead buffers piled up in malloc's heap, which glibc then keeps. Detaching a buffer
 * (`transfer(0)`) frees it at once.
 *
 * @module
 */

/**
 * A writable in front of `w` that frees each chunk after `w` has taken it. Only chunks that are
 * a whole ArrayBuffer are freed (a view onto part of a buffer may share it). `w`'s sink must not
 * keep the chunk after its write resolves.
 */
export function freeAfterWrite(w: WritableStream<Uint8Array>): WritableStream<Uint8Array> {
  const writer = w.getWriter();
  return new WritableStream<Uint8Array>({
    // A pipe into this stream learns at once that `w` failed, as it would piping into `w`.
    start: (controller) => void writer.closed.catch((e) => controller.error(e)),
    async write(chunk) {
      await writer.write(chunk);
      free(chunk);
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
  });
}

function free(chunk: Uint8Array): void {
  const buf = chunk.buffer;
  if (
    buf instanceof ArrayBuffer && typeof buf.transfer === "function" && !buf.resizable &&
    chunk.byteOffset === 0 && chunk.byteLength === buf.byteLength
  ) buf.transfer(0);
}
