/**
 * The link between a process and its WebRTC host process (lib/snowflake/webrtc_process.ts): a
 * loopback TCP connection, not the host's stdin and stdout: Deno serves stdio on its blocking
 * thread pool, a TCP connection on its event loop (docs/client.md "WebRTC in a process of its
 * own", measured there and in docs/PROXY.md).
 *
 * The owner listens on 127.0.0.1, port chosen by the kernel, and hands the host an invitation
 * (the port and a random token) over the host's stdin, which no other process can read. The
 * first connection whose first bytes are the token is the link; the listener closes with it, and
 * every other connection is closed unread. The listener closes as well when
 * the host ends or has not connected within {@link HANDSHAKE_MS}.
 *
 * @module
 */
import { type ByteConn, readFull, writeAll } from "../net/io.ts";

const TOKEN_BYTES = 32;
/** The invitation: u16 port, big-endian, then the token. */
const INVITATION_BYTES = 2 + TOKEN_BYTES;
/** How long the owner waits for its host to connect (it takes ~0.1 s to start). */
export const HANDSHAKE_MS = 10_000;

/** A listener waiting for one host. */
export interface HostListener {
  /** What the host is given on its stdin: {@link connectToOwner} reads it. */
  readonly invitation: Uint8Array;
  /** The host's connection; rejects if it did not come in time or `ended` came first. */
  readonly link: Promise<Deno.TcpConn>;
}

/** Compares two tokens in time that depends only on their length. */
function sameToken(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.byteLength ^ b.byteLength;
  for (let i = 0; i < a.byteLength && i < b.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Listens for the host that proves the token of the returned invitation; `ended` (the host
 * exited) closes the listener. Neither the listener nor a connection it vets keeps the event
 * loop alive.
 */
export function listenForHost(ended: Promise<unknown>, timeoutMs = HANDSHAKE_MS): HostListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.unref();
  const token = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  const invitation = new Uint8Array(INVITATION_BYTES);
  new DataView(invitation.buffer).setUint16(0, listener.addr.port);
  invitation.set(token, 2);

  const vetting = new Set<Deno.TcpConn>();
  let settled = false;
  let settle: (conn: Deno.TcpConn | null) => void;
  const link = new Promise<Deno.TcpConn>((resolve, reject) => {
    settle = (conn) => {
      if (settled) return conn?.close();
      settled = true;
      clearTimeout(timer);
      listener.close();
      for (const c of vetting) c.close();
      vetting.clear();
      if (conn) resolve(conn);
      else reject(new Error("the WebRTC host process did not connect"));
    };
  });
  const timer = setTimeout(() => settle(null), timeoutMs);
  Deno.unrefTimer(timer);
  ended.then(() => settle(null), () => settle(null));

  const vet = async (conn: Deno.TcpConn) => {
    vetting.add(conn);
    conn.unref();
    let proven = false;
    try {
      proven = sameToken(await readFull(conn, TOKEN_BYTES, "WebRTC host link"), token);
    } catch { /* closed, by its peer or by settle() */ }
    if (!vetting.delete(conn)) return;
    if (!proven) return conn.close();
    conn.ref();
    conn.setNoDelay(true);
    settle(conn);
  };
  (async () => {
    try {
      for await (const conn of listener) vet(conn);
    } catch { /* closed */ }
  })();
  return { invitation, link };
}

/** The host's side: reads the invitation off `input` (its stdin), connects and proves itself. */
export async function connectToOwner(input: Pick<ByteConn, "read">): Promise<Deno.TcpConn> {
  const invitation = await readFull(input, INVITATION_BYTES, "WebRTC host invitation");
  const port = new DataView(invitation.buffer).getUint16(0);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  await writeAll(conn, invitation.subarray(2));
  return conn;
}
