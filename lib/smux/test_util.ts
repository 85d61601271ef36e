// Helpers for the smux session tests; not exported from mod.ts.
import { memoryConnPair } from "../net/memory.ts";
import type { MemoryConn } from "../net/memory.ts";
import type { SmuxConfig } from "./config.ts";
import { encodeSmuxFrame, type SmuxFrame, SmuxFrameDecoder } from "./frame.ts";
import { SmuxSession } from "./session.ts";
import type { SmuxStream } from "./stream.ts";

export function sessionPair(
  config: Partial<SmuxConfig> = {},
): { client: SmuxSession; server: SmuxSession; close: () => Promise<void> } {
  const [a, b] = memoryConnPair();
  const client = new SmuxSession(a, { client: true, config });
  const server = new SmuxSession(b, { client: false, config });
  return {
    client,
    server,
    close: async () => {
      client.close();
      server.close();
      await Promise.all([client.closed, server.closed]);
    },
  };
}

/** The far end of a conn, speaking raw frames, to pin what a session puts on the wire. */
export class RawPeer {
  readonly conn: MemoryConn;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder: SmuxFrameDecoder;
  readonly ver: 1 | 2;

  constructor(conn: MemoryConn, ver: 1 | 2) {
    this.conn = conn;
    this.ver = ver;
    this.#writer = conn.writable.getWriter();
    this.#reader = conn.readable.getReader();
    this.#decoder = new SmuxFrameDecoder(ver);
  }

  send(cmd: number, sid: number, data?: Uint8Array): Promise<void> {
    return this.#writer.write(encodeSmuxFrame(this.ver, cmd, sid, data));
  }

  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  /** The next frame from the session; null at EOF. */
  async frame(): Promise<SmuxFrame | null> {
    for (;;) {
      const f = this.#decoder.next();
      if (f) return { ...f, data: f.data.slice() };
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#decoder.push(value);
    }
  }

  /** The next frame that is not a NOP. */
  async frameSkippingNop(): Promise<SmuxFrame | null> {
    for (;;) {
      const f = await this.frame();
      if (f === null || f.cmd !== 3) return f;
    }
  }

  /** Ends the byte stream toward the session (EOF). */
  end(): void {
    this.#writer.close().catch(() => {});
  }

  close(): void {
    this.#reader.cancel().catch(() => {});
    this.#writer.abort().catch(() => {});
    this.conn.close();
  }
}

export function rawPair(
  ver: 1 | 2,
  opts: { client: boolean; config?: Partial<SmuxConfig> },
): { session: SmuxSession; peer: RawPeer } {
  const [a, b] = memoryConnPair();
  const session = new SmuxSession(a, {
    client: opts.client,
    config: { version: ver, ...opts.config },
  });
  return { session, peer: new RawPeer(b, ver) };
}

export async function readAll(stream: SmuxStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of stream.readable) {
    parts.push(chunk);
    n += chunk.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Writes `data` in chunks of `chunk` bytes and closes the writable (sends FIN). */
export async function writeAll(stream: SmuxStream, data: Uint8Array, chunk = 20000) {
  const w = stream.writable.getWriter();
  for (let off = 0; off < data.length; off += chunk) {
    await w.write(data.subarray(off, off + chunk));
  }
  await w.close();
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
