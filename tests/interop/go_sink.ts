/**
 * A stand-in ORPort for tests/interop/go_client_test.ts: writes `<file>` to every connection
 * and then closes it, reading and discarding whatever the peer sends.
 *
 * Usage: go_sink.ts <file> <hostname> <port>
 *
 * @module
 */
const [file, hostname, port] = Deno.args;
const data = await Deno.readFile(file!);
const listener = Deno.listen({ hostname: hostname!, port: Number(port) });
console.log(`listening on ${hostname}:${port}`);
for await (const conn of listener) {
  (async () => {
    const drain = conn.readable.pipeTo(new WritableStream()).catch(() => {});
    try {
      for (let off = 0; off < data.length;) {
        off += await conn.write(data.subarray(off, off + 65536));
      }
    } catch { /* peer gone */ }
    try {
      conn.closeWrite();
    } catch { /* closed */ }
    await drain;
  })();
}
