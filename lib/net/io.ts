/** Exact reads and whole writes on a Deno-style reader/writer. @module */

/** What exact reads and whole writes need from a connection (Deno.Conn fits). */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
}

/**
 * Reads exactly `n` bytes. Reading into just the bytes still missing never
 * consumes what follows them. EOF first is a SyntaxError naming `what`.
 */
export async function readFull(
  conn: Pick<ByteConn, "read">,
  n: number,
  what = "connection",
): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let have = 0;
  while (have < n) {
    const got = await conn.read(buf.subarray(have));
    if (got === null) throw new SyntaxError(`${what}: unexpected EOF after ${have} of ${n} bytes`);
    have += got;
  }
  return buf;
}

/** Writes all of `data`, however the writer splits it. */
export async function writeAll(conn: Pick<ByteConn, "write">, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
