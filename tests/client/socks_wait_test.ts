/**
 * `socks:` the standalone front end (client/front.ts) while the far SOCKS5 server has not
 * answered yet, with a stand-in session whose streams are in-memory pipes: an application that
 * leaves then has its stream closed at once (not kept, with its session and a volunteer's proxy,
 * until smux's keepalive timeout), and bytes it sends before the reply reach the far end after
 * the CONNECT, in order.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { serveSocks } from "../../client/front.ts";
import { type SharedSession, SharedSessions } from "../../client/shared_sessions.ts";
import { type MemoryConn, memoryConnPair } from "../../lib/net/mod.ts";
import { defaultClientConfig } from "../../lib/snowflake/client_config.ts";
import type { FrontOptions } from "../../client/front.ts";

/** A session whose streams end in `far`, where the test plays the far SOCKS5 server. */
class PipeSession implements SharedSession {
  readonly name = "session 1";
  readonly closed = new Promise<void>(() => {});
  readonly silentMs = 0;
  readonly near: MemoryConn[] = [];
  readonly far: MemoryConn[] = [];
  openStream(): Promise<MemoryConn> {
    const [near, far] = memoryConnPair();
    this.near.push(near);
    this.far.push(far);
    return Promise.resolve(near);
  }
  close() {}
}

async function withFront(
  fn: (port: number, session: PipeSession, log: string[]) => Promise<void>,
): Promise<void> {
  const session = new PipeSession();
  const log: string[] = [];
  const stop = new AbortController();
  const sessions = new SharedSessions({ start: () => session, signal: stop.signal });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = serveSocks(listener, {
    mode: "standalone",
    config: defaultClientConfig(),
    // Never dials: the sessions are given.
    env: { log: (m: string) => void log.push(m) } as unknown as FrontOptions["env"],
    signal: stop.signal,
    sessions: sessions as unknown as FrontOptions["sessions"],
  });
  try {
    await fn((listener.addr as Deno.NetAddr).port, session, log);
  } finally {
    stop.abort();
    await served;
  }
}

const GREETING = [5, 1, 0];
const CONNECT = [5, 1, 0, 1, 192, 0, 2, 1, 0, 80];
/** The far SOCKS5 server's answer: no authentication, then success. */
const FAR_REPLY = [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

async function readN(reader: ReadableStreamDefaultReader<Uint8Array>, n: number) {
  const got: number[] = [];
  while (got.length < n) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`EOF after ${got.length} of ${n} bytes`);
    got.push(...value);
  }
  return got;
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 100) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("socks: standalone: an application that leaves before the far SOCKS server answered has its stream closed at once", async () => {
  await withFront(async (port, session, log) => {
    const app = await Deno.connect({ hostname: "127.0.0.1", port });
    await app.write(new Uint8Array([...GREETING, ...CONNECT]));
    await until(() => session.near.length === 1, "the stream");
    const far = session.far[0]!.readable.getReader();
    // The replayed greeting and CONNECT reach the far end, which never answers.
    assertEquals((await readN(far, 3 + CONNECT.length)).slice(0, 3), GREETING);
    let closed = false;
    session.near[0]!.closed.then(() => (closed = true));
    app.close();
    await until(() => closed, "the stream to close");
    assert(
      log.some((l) => /SOCKS \d+: gone before the far end answered/.test(l)),
      log.join("\n"),
    );
  });
});

Deno.test("socks: standalone: bytes sent before the far SOCKS server's reply (optimistic data) follow the CONNECT", async () => {
  await withFront(async (port, session) => {
    const app = await Deno.connect({ hostname: "127.0.0.1", port });
    const request = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
    await app.write(new Uint8Array([...GREETING, ...CONNECT, ...request]));
    await until(() => session.near.length === 1, "the stream");
    const far = session.far[0]!.readable.getReader();
    await readN(far, 3 + CONNECT.length);
    const w = session.far[0]!.writable.getWriter();
    await w.write(new Uint8Array(FAR_REPLY));
    assertEquals(await readN(far, request.length), [...request]);
    const reader = app.readable.getReader();
    assertEquals((await readN(reader, 12)).slice(0, 4), [5, 0, 5, 0]);
    await w.write(new TextEncoder().encode("ok"));
    assertEquals(await readN(reader, 2), [...new TextEncoder().encode("ok")]);
    reader.releaseLock();
    app.close();
  });
});
