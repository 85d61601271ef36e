/**
 * Test-only Snowflake client pieces that talk Turbo Tunnel straight to the server over a
 * WebSocket (no WebRTC, no broker): lib/turbotunnel's RedialPacketConn over lib/net's
 * WebSocket Conn, and a KCP + smux session on top.
 *
 * @module
 */
import { dialWebSocket, NamedAddr } from "../../lib/net/mod.ts";
import { dialKcp, type KcpSession, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { ClientID, RedialPacketConn } from "../../lib/turbotunnel/mod.ts";

/** One simulated Snowflake client: WebSocket carriers → Turbo Tunnel → KCP → smux. */
export interface TestClient {
  id: ClientID;
  pconn: RedialPacketConn;
  kcp: KcpSession;
  smux: SmuxSession;
  close(): void;
}

/**
 * A client whose carriers are WebSockets to `url` (redialed if one ends). Resolves once
 * the first one is open.
 */
export async function connectClient(url: string, id = ClientID.random()): Promise<TestClient> {
  let opened!: () => void;
  const first = new Promise<void>((r) => (opened = r));
  const remote = new NamedAddr("websocket", url);
  const pconn = new RedialPacketConn(id, remote, async (signal) => {
    const conn = await dialWebSocket(url, { signal });
    opened();
    return conn;
  });
  const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
  const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  const client = {
    id,
    pconn,
    kcp,
    smux,
    close() {
      smux.close();
      kcp.close();
      pconn.close();
    },
  };
  await first;
  return client;
}

/** Writes `data` on a new stream, half-closes, and reads everything back. */
export async function echoThrough(client: TestClient, data: Uint8Array): Promise<Uint8Array> {
  const stream = await client.smux.openStream();
  const writer = stream.writable.getWriter();
  const writing = (async () => {
    for (let off = 0; off < data.length; off += 16384) {
      await writer.write(data.subarray(off, off + 16384));
    }
    await writer.close();
  })();
  const out = new Uint8Array(data.length);
  let have = 0;
  const reader = stream.readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (have + value.length > out.length) throw new RangeError("echo returned too many bytes");
    out.set(value, have);
    have += value.length;
  }
  await writing;
  stream.close();
  if (have !== data.length) throw new RangeError(`echo returned ${have} of ${data.length} bytes`);
  return out;
}

/** A TCP echo server standing in for the ORPort; `closeWrite` after EOF (half-close). */
export function startEcho(): {
  port: number;
  close(): void;
  connections: number;
  sources: Set<string>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = {
    port: (listener.addr as Deno.NetAddr).port,
    connections: 0,
    sources: new Set<string>(),
    close: () => listener.close(),
  };
  (async () => {
    for await (const c of listener) {
      state.connections++;
      state.sources.add((c.remoteAddr as Deno.NetAddr).hostname);
      (async () => {
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            let off = 0;
            while (off < n) off += await c.write(buf.subarray(off, n));
          }
          await c.closeWrite();
        } catch { /* peer went away */ }
        try {
          c.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return state;
}
