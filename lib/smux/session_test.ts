import { ClosedError, TimeoutError } from "../net/errors.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { seededBytes } from "../testing/fuzz.ts";
import { sha256Hex } from "../testing/util.ts";
import {
  decodeSmuxUpd,
  encodeSmuxFrame,
  SMUX_CMD_FIN,
  SMUX_CMD_PSH,
  SMUX_CMD_SYN,
  SMUX_CMD_UPD,
  SMUX_INITIAL_PEER_WINDOW,
} from "./frame.ts";
import { SmuxSession } from "./session.ts";
import { delay, rawPair, readAll, sessionPair, writeAll } from "./test_util.ts";
import { memoryConnPair } from "../net/memory.ts";

const NO_KEEPALIVE = { keepAliveDisabled: true };

async function echoServer(server: SmuxSession, count: number): Promise<void> {
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const s = await server.acceptStream();
    jobs.push((async () => {
      const data = await readAll(s);
      // Reply with the reversed bytes so the two directions differ.
      await writeAll(s, data.slice().reverse(), 30000);
    })());
  }
  await Promise.all(jobs);
}

for (const version of [1, 2] as const) {
  Deno.test(`session: v${version} many concurrent streams, sha256-verified both ways`, async () => {
    const { client, server, close } = sessionPair({ version, ...NO_KEEPALIVE });
    const N = 24;
    const served = echoServer(server, N);
    await Promise.all(Array.from({ length: N }, async (_, i) => {
      const data = seededBytes(50_000 + i * 7919, i + 1);
      const s = await client.openStream();
      const [, reply] = await Promise.all([writeAll(s, data, 1000 + i * 997), readAll(s)]);
      assertEquals(await sha256Hex(reply), await sha256Hex(data.slice().reverse()));
    }));
    await served;
    assertEquals(client.numStreams, 0);
    assertEquals(server.numStreams, 0);
    await close();
  });
}

Deno.test("session: client stream ids are odd from 3, server ids even from 2", async () => {
  const { client, server, close } = sessionPair(NO_KEEPALIVE);
  assertEquals((await client.openStream()).id, 3);
  assertEquals((await client.openStream()).id, 5);
  assertEquals((await server.openStream()).id, 2);
  assertEquals((await server.openStream()).id, 4);
  assertEquals((await server.acceptStream()).id, 3);
  assertEquals((await client.acceptStream()).id, 2);
  assertEquals(client.numStreams, 4);
  await close();
});

Deno.test("session: half-close keeps the other direction working", async () => {
  const { client, server, close } = sessionPair({ version: 2, ...NO_KEEPALIVE });
  const c = await client.openStream();
  const req = seededBytes(100_000, 7);
  await writeAll(c, req); // FIN sent; c can still read
  const s = await server.acceptStream();
  assertEquals(await sha256Hex(await readAll(s)), await sha256Hex(req));
  assertEquals(server.numStreams, 1); // server has not sent FIN yet
  const resp = seededBytes(300_000, 9);
  const [, got] = await Promise.all([writeAll(s, resp), readAll(c)]);
  assertEquals(await sha256Hex(got), await sha256Hex(resp));
  assertEquals(client.numStreams, 0);
  assertEquals(server.numStreams, 0);
  await close();
});

Deno.test("flow: v2 slow reader loses nothing and the writer stalls at the window", async () => {
  const { client, server, close } = sessionPair({
    version: 2,
    maxStreamBuffer: 65536,
    ...NO_KEEPALIVE,
  });
  const c = await client.openStream();
  const data = seededBytes(2 * 1024 * 1024, 3);
  let written = 0;
  const writer = (async () => {
    const w = c.writable.getWriter();
    for (let off = 0; off < data.length; off += 16384) {
      await w.write(data.subarray(off, off + 16384));
      written = off + 16384;
    }
    await w.close();
  })();
  const s = await server.acceptStream();
  // Nothing read yet: the sender fills exactly the initial window, then waits.
  for (let i = 0; i < 500 && s.buffered < SMUX_INITIAL_PEER_WINDOW; i++) await delay(10);
  assertEquals(s.buffered, SMUX_INITIAL_PEER_WINDOW);
  await delay(50);
  assertEquals(s.buffered, SMUX_INITIAL_PEER_WINDOW);
  assert(written <= SMUX_INITIAL_PEER_WINDOW, `written ${written}`);
  const r = s.readable.getReader();
  const parts: Uint8Array[] = [];
  let got = 0;
  for (;;) {
    const { value, done } = await r.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    // Once the peer has our real window, unread data stays within window + one read's worth.
    if (got > SMUX_INITIAL_PEER_WINDOW) assert(s.buffered <= 2 * 65536, `buffered ${s.buffered}`);
    if (parts.length % 8 === 0) await delay(1);
  }
  await writer;
  const all = new Uint8Array(got);
  let off = 0;
  for (const p of parts) all.set(p, (off += p.length) - p.length);
  assertEquals(await sha256Hex(all), await sha256Hex(data));
  await close();
});

Deno.test("flow: v1 token bucket stops reading the conn at maxReceiveBuffer", async () => {
  const { client, server, close } = sessionPair({
    version: 1,
    maxReceiveBuffer: 100_000,
    maxStreamBuffer: 65536,
    ...NO_KEEPALIVE,
  });
  const c = await client.openStream();
  const data = seededBytes(3 * 1024 * 1024, 11);
  const writer = writeAll(c, data, 32768);
  const s = await server.acceptStream();
  // Nobody reads: the session must fill the bucket and then stop.
  for (let i = 0; i < 500 && s.buffered < 100_000; i++) await delay(10);
  // It dispatches at most the rest of the conn chunk it had read (one batch) past the bucket.
  assert(s.buffered >= 100_000 && s.buffered <= 100_000 + 300_000, `buffered ${s.buffered}`);
  const before = s.buffered;
  await delay(50);
  assertEquals(s.buffered, before);
  assertEquals(await sha256Hex(await readAll(s)), await sha256Hex(data));
  await writer;
  await close();
});

Deno.test("flow: v2 streams nobody reads do not stall the others (no head-of-line blocking)", async () => {
  // The client's ratio (8 MiB receive buffer, 4 MiB windows), scaled down.
  const window = 512 * 1024;
  const { client, server, close } = sessionPair({
    version: 2,
    maxReceiveBuffer: 2 * window,
    maxStreamBuffer: window,
    ...NO_KEEPALIVE,
  });
  const opened = await Promise.all([0, 1, 2].map(() => client.openStream()));
  const data = [0, 1, 2].map((i) => seededBytes(4 * window, 20 + i));
  const writers = [];
  for (let i = 0; i < 3; i++) writers.push(writeAll(await server.acceptStream(), data[i]!, 32768));
  // The first two are read once (their UPD grants the full window), then nobody reads them.
  const stalled = opened.slice(0, 2).map((s) => s.readable.getReader());
  const firsts = await Promise.all(stalled.map((r) => r.read()));
  for (let i = 0; i < 500 && opened[0]!.buffered + opened[1]!.buffered < window; i++) {
    await delay(10);
  }
  assert(opened[0]!.buffered + opened[1]!.buffered >= window, "the stalled streams filled up");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const third = await Promise.race([
    readAll(opened[2]!),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the third stream stalled")), 20_000);
    }),
  ]);
  clearTimeout(timer);
  assertEquals(await sha256Hex(third), await sha256Hex(data[2]!));
  // Each stalled stream holds at most its window: memory stays bounded.
  for (const s of opened.slice(0, 2)) assert(s.buffered <= window, `buffered ${s.buffered}`);
  for (let i = 0; i < 2; i++) {
    const parts = [firsts[i]!.value!];
    for (let r = await stalled[i]!.read(); !r.done; r = await stalled[i]!.read()) {
      parts.push(r.value);
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) all.set(p, (off += p.length) - p.length);
    assertEquals(await sha256Hex(all), await sha256Hex(data[i]!));
  }
  await Promise.all(writers);
  await close();
});

Deno.test("flow: v2 a peer that ignores the window is stopped at what it was granted", async () => {
  const { session, peer } = rawPair(2, {
    client: false,
    config: { maxStreamBuffer: 65536, maxReceiveBuffer: 1024 * 1024, ...NO_KEEPALIVE },
  });
  await peer.send(SMUX_CMD_SYN, 3);
  const s = await session.acceptStream();
  // Nobody reads: the peer may send the initial window; it sends 4 MiB.
  const frame = new Uint8Array(32768);
  const sending = (async () => {
    for (let i = 0; i < 128; i++) await peer.send(SMUX_CMD_PSH, 3, frame);
  })().catch(() => {});
  for (let i = 0; i < 500 && s.buffered <= SMUX_INITIAL_PEER_WINDOW; i++) await delay(10);
  await delay(100);
  const held = s.buffered;
  assert(
    held > SMUX_INITIAL_PEER_WINDOW && held <= SMUX_INITIAL_PEER_WINDOW + frame.length,
    `buffered ${held}`,
  );
  await delay(100);
  assertEquals(s.buffered, held, "reading stays paused");
  session.close();
  peer.close();
  await sending;
});

Deno.test("keepalive: silentMs counts from the last byte, and not while the streams hold the buffer", async () => {
  const { session, peer } = rawPair(1, {
    client: false,
    config: { maxReceiveBuffer: 1000, maxStreamBuffer: 1000, ...NO_KEEPALIVE },
  });
  await delay(60);
  assert(session.silentMs >= 50, `silent ${session.silentMs}`);
  await peer.send(SMUX_CMD_SYN, 3);
  const s = await session.acceptStream();
  assert(session.silentMs < 50, `silent ${session.silentMs}`);
  // Nobody reads: the session stops reading the conn, and the peer is not the one silent.
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array(1000));
  for (let i = 0; i < 100 && s.buffered < 1000; i++) await delay(5);
  await delay(60);
  assertEquals(session.silentMs, 0);
  session.close();
  peer.close();
});

Deno.test("session: v2 receiver sends UPD on its first read and every half window", async () => {
  const { session, peer } = rawPair(2, {
    client: false,
    config: { maxStreamBuffer: 8192, maxReceiveBuffer: 65536, ...NO_KEEPALIVE },
  });
  await peer.send(SMUX_CMD_SYN, 3);
  const s = await session.acceptStream();
  const r = s.readable.getReader();
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array(100));
  assertEquals((await r.read()).value?.length, 100);
  let f = await peer.frame();
  assertEquals([f?.cmd, f?.sid], [SMUX_CMD_UPD, 3]);
  assertEquals(decodeSmuxUpd(f!.data), { consumed: 100, window: 8192 });
  // 4000 more: 4000 < 4096 since the last UPD, so no UPD yet; 100 more crosses it.
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array(4000));
  assertEquals((await r.read()).value?.length, 4000);
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array(100));
  assertEquals((await r.read()).value?.length, 100);
  f = await peer.frame();
  assertEquals([f?.cmd, f?.sid], [SMUX_CMD_UPD, 3]);
  assertEquals(decodeSmuxUpd(f!.data), { consumed: 4200, window: 8192 });
  session.close();
  peer.close();
});

Deno.test("session: v2 sender stops at the peer window and resumes on UPD", async () => {
  const { session, peer } = rawPair(2, { client: true, config: NO_KEEPALIVE });
  const s = await session.openStream();
  let f = await peer.frame();
  assertEquals([f?.cmd, f?.sid], [SMUX_CMD_SYN, 3]);
  const w = s.writable.getWriter();
  const wrote = w.write(new Uint8Array(SMUX_INITIAL_PEER_WINDOW + 1000));
  let got = 0;
  while (got < SMUX_INITIAL_PEER_WINDOW) {
    f = await peer.frame();
    assertEquals(f?.cmd, SMUX_CMD_PSH);
    assert(f!.data.length <= 32768);
    got += f!.data.length;
  }
  assertEquals(got, SMUX_INITIAL_PEER_WINDOW);
  let done = false;
  wrote.then(() => (done = true));
  await delay(30);
  assert(!done, "write must wait for a window update");
  // Peer consumed everything, window 500: 500 more bytes may go, then another stall.
  const upd = new Uint8Array(8);
  new DataView(upd.buffer).setUint32(0, SMUX_INITIAL_PEER_WINDOW, true);
  new DataView(upd.buffer).setUint32(4, 500, true);
  await peer.send(SMUX_CMD_UPD, 3, upd);
  f = await peer.frame();
  assertEquals([f?.cmd, f?.data.length], [SMUX_CMD_PSH, 500]);
  new DataView(upd.buffer).setUint32(0, SMUX_INITIAL_PEER_WINDOW + 500, true);
  new DataView(upd.buffer).setUint32(4, 65536, true);
  await peer.send(SMUX_CMD_UPD, 3, upd);
  f = await peer.frame();
  assertEquals([f?.cmd, f?.data.length], [SMUX_CMD_PSH, 500]);
  await wrote;
  session.close();
  peer.close();
});

Deno.test("session: stray frames are ignored like upstream (PSH/FIN/UPD for unknown sid, dup SYN)", async () => {
  const { session, peer } = rawPair(2, { client: false, config: NO_KEEPALIVE });
  await peer.send(SMUX_CMD_PSH, 99, new Uint8Array([1, 2, 3]));
  await peer.send(SMUX_CMD_FIN, 99);
  await peer.send(SMUX_CMD_UPD, 99, new Uint8Array(8));
  await peer.send(SMUX_CMD_SYN, 3);
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array([7]));
  await peer.send(SMUX_CMD_SYN, 3); // duplicate: ignored, stream keeps its data
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array([8]));
  await peer.send(SMUX_CMD_FIN, 3);
  const s = await session.acceptStream();
  assertEquals([...await readAll(s)], [7, 8]);
  assertEquals(session.numStreams, 1);
  assert(!session.isClosed);
  session.close();
  peer.close();
});

Deno.test("session: a protocol error closes the session and its streams", async () => {
  const { session, peer } = rawPair(2, { client: false, config: NO_KEEPALIVE });
  await peer.send(SMUX_CMD_SYN, 3);
  const s = await session.acceptStream();
  await peer.sendRaw(encodeSmuxFrame(1, SMUX_CMD_PSH, 3, new Uint8Array(4))); // wrong version
  await session.closed;
  assert(session.closeReason instanceof SyntaxError);
  await assertRejects(() => readAll(s), SyntaxError);
  await assertRejects(() => session.acceptStream(), SyntaxError);
  await assertRejects(() => session.openStream(), SyntaxError);
  assertEquals(session.numStreams, 0);
  peer.close();
});

Deno.test("session: unknown cmd closes the session", async () => {
  const { session, peer } = rawPair(1, { client: true, config: NO_KEEPALIVE });
  await peer.sendRaw(new Uint8Array([1, 7, 0, 0, 1, 0, 0, 0]));
  await session.closed;
  assert(session.closeReason instanceof SyntaxError);
  peer.close();
});

Deno.test("keepalive: sends NOPs and closes a session whose peer is silent", async () => {
  const { session, peer } = rawPair(2, {
    client: true,
    config: { keepAliveIntervalMs: 20, keepAliveTimeoutMs: 60 },
  });
  const f = await peer.frame();
  assertEquals([f?.cmd, f?.sid], [3, 0]); // NOP
  await session.closed;
  assert(session.closeReason instanceof TimeoutError, String(session.closeReason));
  await assertRejects(() => peer.frame(), ClosedError); // the memory conn was closed
  peer.close();
});

Deno.test("keepalive: a peer that sends NOPs keeps the session open", async () => {
  const { client, server, close } = sessionPair({
    keepAliveIntervalMs: 20,
    keepAliveTimeoutMs: 200,
  });
  await delay(500);
  assert(!client.isClosed && !server.isClosed);
  await close();
});

Deno.test("session: EOF on the conn closes the session; buffered data is still readable", async () => {
  const { session, peer } = rawPair(2, { client: false, config: NO_KEEPALIVE });
  await peer.send(SMUX_CMD_SYN, 3);
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array([1, 2, 3]));
  await peer.send(SMUX_CMD_FIN, 3);
  await peer.send(SMUX_CMD_SYN, 5);
  await peer.send(SMUX_CMD_PSH, 5, new Uint8Array([4]));
  const a = await session.acceptStream();
  const b = await session.acceptStream();
  peer.end();
  await session.closed;
  assert(session.closeReason instanceof ClosedError);
  assertEquals([...await readAll(a)], [1, 2, 3]); // FIN arrived: clean end
  const r = b.readable.getReader();
  assertEquals([...(await r.read()).value!], [4]);
  await assertRejects(() => r.read(), ClosedError); // no FIN: error after the data
  peer.close();
});

Deno.test("session: stream close sends FIN, frees the id and drops later data", async () => {
  const { session, peer } = rawPair(2, { client: true, config: NO_KEEPALIVE });
  const s = await session.openStream();
  assertEquals(session.numStreams, 1);
  s.close();
  assertEquals(session.numStreams, 0);
  let f = await peer.frame();
  assertEquals([f?.cmd, f?.sid], [SMUX_CMD_SYN, 3]);
  f = await peer.frame();
  assertEquals([f?.cmd, f?.sid], [SMUX_CMD_FIN, 3]);
  await peer.send(SMUX_CMD_PSH, 3, new Uint8Array(10)); // dropped
  await assertRejects(() => s.writable.getWriter().write(new Uint8Array(1)), ClosedError);
  await assertRejects(() => s.readable.getReader().read(), ClosedError);
  const t = await session.openStream();
  assertEquals(t.id, 5);
  assert(!session.isClosed);
  session.close();
  peer.close();
});

Deno.test("session: a stream is open until either side closes or half-closes it, or the session closes", async () => {
  const { session, peer } = rawPair(2, { client: true, config: NO_KEEPALIVE });
  const byPeer = await session.openStream();
  const halfClosed = await session.openStream();
  const closed = await session.openStream();
  const untouched = await session.openStream();
  assert(byPeer.isOpen && halfClosed.isOpen && closed.isOpen && untouched.isOpen);
  await peer.send(SMUX_CMD_FIN, byPeer.id);
  assertEquals((await byPeer.readable.getReader().read()).done, true);
  assert(!byPeer.isOpen);
  await halfClosed.writable.close();
  assert(!halfClosed.isOpen);
  closed.close();
  assert(!closed.isOpen);
  assert(untouched.isOpen);
  session.close();
  assert(!untouched.isOpen);
  peer.close();
});

Deno.test("session: closing the session errors open streams and rejects accept", async () => {
  const { client, server, close } = sessionPair(NO_KEEPALIVE);
  const c = await client.openStream();
  const pendingAccept = client.acceptStream();
  const reading = c.readable.getReader().read();
  client.close();
  await client.closed;
  await assertRejects(() => reading, ClosedError);
  await assertRejects(() => pendingAccept, ClosedError);
  await assertRejects(() => c.writable.getWriter().write(new Uint8Array(1)), ClosedError);
  await server.closed; // the conn closed under it
  await close();
});

Deno.test("session: acceptStream honours an AbortSignal", async () => {
  const { client, close } = sessionPair(NO_KEEPALIVE);
  const ac = new AbortController();
  const p = client.acceptStream(ac.signal);
  ac.abort(new TimeoutError("accept"));
  await assertRejects(() => p, TimeoutError);
  await close();
});

Deno.test("session: a misbehaving peer UPD errors only that stream", async () => {
  const { session, peer } = rawPair(2, { client: true, config: NO_KEEPALIVE });
  const s = await session.openStream();
  // Claims 1000 bytes consumed though none were sent.
  const upd = new Uint8Array(8);
  new DataView(upd.buffer).setUint32(0, 1000, true);
  new DataView(upd.buffer).setUint32(4, 65536, true);
  await peer.send(SMUX_CMD_UPD, 3, upd);
  await peer.frame(); // SYN
  await delay(10);
  await assertRejects(() => s.writable.getWriter().write(new Uint8Array(5)), RangeError);
  const t = await session.openStream();
  await t.writable.getWriter().write(new Uint8Array([42]));
  await peer.frame(); // SYN 5
  const f = await peer.frame();
  assertEquals([f?.cmd, f?.sid, [...f!.data]], [SMUX_CMD_PSH, 5, [42]]);
  session.close();
  peer.close();
});

Deno.test("session: rejects bad options", () => {
  const [a, b] = memoryConnPair();
  try {
    let threw = false;
    try {
      new SmuxSession(a, { client: true, config: { version: 3 as 2 } });
    } catch (e) {
      threw = e instanceof RangeError;
    }
    assert(threw);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("session: midFrame while the rest of a frame is awaited, not between frames", async () => {
  const { session, peer } = rawPair(2, { client: false });
  const frame = encodeSmuxFrame(2, SMUX_CMD_SYN, 3);
  const psh = encodeSmuxFrame(2, SMUX_CMD_PSH, 3, new Uint8Array(100));
  await peer.sendRaw(frame);
  await delay(20);
  assertEquals(session.midFrame, false);
  await peer.sendRaw(psh.subarray(0, 50));
  await delay(20);
  assertEquals(session.midFrame, true);
  await peer.sendRaw(psh.subarray(50));
  await delay(20);
  assertEquals(session.midFrame, false);
  session.close();
  peer.close();
});
