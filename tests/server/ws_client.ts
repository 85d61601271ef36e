/**
 * Test-only Snowflake client pieces that talk Turbo Tunnel straight to the server over a
 * WebSocket (no WebRTC, no broker): a WebSocket Conn and a KCP + smux session on top.
 *
 * @module
 */
import { type Conn, NamedAddr } from "../../lib/net/mod.ts";
import { dialKcp, type KcpSession, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { ClientID, openTurbotunnel } from "../../lib/turbotunnel/mod.ts";

/** Opens a WebSocket and adapts it to a Conn (binary messages ↔ byte chunks). */
export async function dialWebSocket(url: string): Promise<Conn & { ws: WebSocket }> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
  const addr = new NamedAddr("websocket", url);
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      ws.onmessage = (e) => {
        try {
          c.enqueue(new Uint8Array(e.data as ArrayBuffer));
        } catch { /* reader cancelled */ }
      };
      ws.onclose = () => {
        try {
          c.close();
        } catch { /* already closed */ }
      };
    },
    cancel() {
      ws.close();
    },
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (ws.readyState !== WebSocket.OPEN) throw new Error("WebSocket closed");
      ws.send(chunk as Uint8Array<ArrayBuffer>);
      while (ws.bufferedAmount > 1 << 20 && ws.readyState === WebSocket.OPEN) {
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    close() {
      ws.close();
    },
    abort() {
      ws.close();
    },
  });
  return { ws, readable, writable, localAddr: addr, remoteAddr: addr, close: () => ws.close() };
}

/** One simulated Snowflake client: WebSocket → Turbo Tunnel → KCP → smux. */
export interface TestClient {
  id: ClientID;
  ws: WebSocket;
  kcp: KcpSession;
  smux: SmuxSession;
  close(): void;
}

export async function connectClient(url: string, id = ClientID.random()): Promise<TestClient> {
  const conn = await dialWebSocket(url);
  const pconn = await openTurbotunnel(conn, id);
  const kcp = dialKcp(pconn, conn.remoteAddr, SNOWFLAKE_KCP);
  const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  return {
    id,
    ws: conn.ws,
    kcp,
    smux,
    close() {
      smux.close();
      kcp.close();
      conn.close();
    },
  };
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

/** `n` random bytes (getRandomValues is limited to 64 KiB per call). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(out.subarray(off, off + 65536));
  return out;
}
