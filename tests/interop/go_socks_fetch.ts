/**
 * A SOCKS5 client for tests/interop/go_client_test.ts, run inside the namespace next to
 * Debian's snowflake-client: connects through the PT's SOCKS port with the bridge arguments
 * in the username (as tor does; the password is one NUL byte), reads until EOF and prints
 * `{"bytes":N,"sha256":"...","seconds":S}`.
 *
 * Usage: go_socks_fetch.ts <socks port> <pt args, e.g. fingerprint=...>
 *
 * @module
 */
import { readFull, writeAll } from "../../lib/net/io.ts";

const [port, args] = Deno.args;
const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
const user = new TextEncoder().encode(args!);
await writeAll(conn, new Uint8Array([5, 1, 2]));
const method = await readFull(conn, 2, "SOCKS method reply");
if (method[1] !== 2) throw new Error(`SOCKS method ${method[1]}`);
await writeAll(conn, new Uint8Array([1, user.length, ...user, 1, 0]));
const auth = await readFull(conn, 2, "SOCKS auth reply");
if (auth[1] !== 0) throw new Error("SOCKS auth refused");
// CONNECT to the bridge's (unused) address, as tor does.
await writeAll(conn, new Uint8Array([5, 1, 0, 1, 192, 0, 2, 3, 0, 80]));
const reply = await readFull(conn, 10, "SOCKS connect reply");
if (reply[1] !== 0) throw new Error(`SOCKS connect failed: ${reply[1]}`);
const t0 = performance.now();
const hash = (await import("node:crypto")).createHash("sha256");
let bytes = 0;
for await (const chunk of conn.readable) {
  bytes += chunk.length;
  hash.update(chunk);
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ bytes, sha256: hash.digest("hex"), seconds }));
