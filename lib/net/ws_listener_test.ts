import tls from "node:tls";
import { assert, assertEquals } from "../testing/assert.ts";
import { seededBytes } from "../testing/fuzz.ts";
import {
  clientFrame,
  clientFrameHeader,
  rawWebSocket,
  readUntilClosed,
  writeUntilRefused,
} from "../testing/raw_websocket.ts";
import { dialWebSocket } from "./websocket.ts";
import { WsListener } from "./ws_listener.ts";
import { sleep } from "./sleep.ts";
import { within } from "../testing/util.ts";

const MiB = 1 << 20;

/** Reads server frames until a Close; resolves with its code (or -1 on EOF without one). */
async function closeCodeOf(conn: Deno.Conn): Promise<number> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  try {
    for (;;) {
      while (buf.length >= 2) {
        const len = buf[1]! & 127;
        const hdr = len === 126 ? 4 : len === 127 ? 10 : 2;
        if (buf.length < hdr) break;
        const size = len === 126 ? (buf[2]! << 8) | buf[3]! : len === 127 ? Infinity : len;
        if (buf.length < hdr + size) break;
        if ((buf[0]! & 15) === 8) return size >= 2 ? (buf[hdr]! << 8) | buf[hdr + 1]! : 1005;
        buf = buf.subarray(hdr + size);
      }
      const n = await conn.read(chunk);
      if (n === null) return -1;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
    }
  } catch {
    return -1;
  }
}

function drain(listener: WsListener): void {
  (async () => {
    for await (const a of listener) a.conn.readable.pipeTo(new WritableStream()).catch(() => {});
  })();
}

Deno.test("websocket: the ws listener echoes 4 MiB, reports the request URL and peer, refuses text", async () => {
  const listener = await WsListener.listen();
  const served = (async () => {
    for await (const a of listener) {
      assertEquals(a.url.pathname, "/path");
      assertEquals(a.url.searchParams.get("client_ip"), "192.0.2.7");
      assertEquals(a.remoteAddr.hostname, "127.0.0.1");
      assertEquals(a.conn.remoteAddr, a.remoteAddr);
      await a.conn.readable.pipeTo(a.conn.writable).catch(() => {});
    }
  })();
  const conn = await dialWebSocket(
    `ws://127.0.0.1:${listener.addr.port}/path?client_ip=192.0.2.7`,
  );
  const data = seededBytes(4 * MiB, 7);
  const writer = conn.writable.getWriter();
  const writing = (async () => {
    for (let off = 0; off < data.length; off += 50_000) {
      await writer.write(data.subarray(off, off + 50_000));
    }
  })();
  const back = new Uint8Array(data.length);
  let have = 0;
  const reader = conn.readable.getReader();
  while (have < data.length) {
    const { value, done } = await reader.read();
    if (done) break;
    back.set(value, have);
    have += value.length;
  }
  await writing;
  assertEquals(have, data.length);
  assert(back.every((b, i) => b === data[i]), "echo differs");
  conn.close();
  const texting = await rawWebSocket(listener.addr.port, "/path?client_ip=192.0.2.7");
  await texting.write(clientFrame(1, new TextEncoder().encode("hello")));
  assertEquals(await closeCodeOf(texting), 1003);
  texting.close();
  assertEquals(listener.refused.text, 1);
  const res = await fetch(`http://127.0.0.1:${listener.addr.port}/`);
  assertEquals([res.status, await res.text()], [400, "Bad Request\n"]);
  await listener.close();
  await served;
});

Deno.test("bounds: a message in 1 MB fragments that never ends is refused at maxPayload; RSS stays flat", async () => {
  const listener = await WsListener.listen({ closeGraceMs: 1000 });
  drain(listener);
  const fragment = new Uint8Array(MiB);
  const rssBefore = Deno.memoryUsage().rss;
  const conn = await rawWebSocket(listener.addr.port);
  const code = closeCodeOf(conn);
  let sent = 0;
  const written = await writeUntilRefused(conn, () => {
    // 512 MiB offered: the first fragment opens a binary message, the rest continue it.
    if (sent >= 512) return null;
    return clientFrame(sent++ === 0 ? 2 : 0, fragment, false);
  });
  const grown = Deno.memoryUsage().rss - rssBefore;
  assertEquals(await within(code, 30_000, -2), 1009);
  assertEquals(listener.refused.oversize, 1);
  assert(written < 512 * MiB, "the server kept reading the endless message");
  assert(grown < 96 * MiB, `RSS grew by ${(grown / MiB).toFixed(0)} MiB`);
  console.log(
    `  refused after ${(written / MiB).toFixed(0)} MiB written; RSS +${
      (grown / MiB).toFixed(0)
    } MiB`,
  );
  conn.close();
  await listener.close();
});

Deno.test("bounds: eight 60 MB single frames are refused from their headers; RSS stays flat", async () => {
  const listener = await WsListener.listen({ closeGraceMs: 1000 });
  drain(listener);
  const chunk = new Uint8Array(MiB);
  const rssBefore = Deno.memoryUsage().rss;
  let most = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    const conn = await rawWebSocket(listener.addr.port);
    const code = closeCodeOf(conn);
    let sent = -1;
    const written = await writeUntilRefused(conn, () => {
      if (sent++ < 0) return clientFrameHeader(2, 60 * MiB);
      return sent <= 60 ? chunk : null;
    });
    assertEquals(await within(code, 30_000, -2), 1009);
    assert(written < 60 * MiB, "the server read the whole 60 MB frame");
    conn.close();
  }));
  most = Deno.memoryUsage().rss - rssBefore;
  assert(most < 96 * MiB, `RSS grew by ${(most / MiB).toFixed(0)} MiB`);
  await listener.close();
});

Deno.test("bounds: slowloris: 1,000 connections trickling header bytes and a half request are closed", async () => {
  const listener = await WsListener.listen(); // default header deadline
  drain(listener);
  const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  const trickle = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const closed = readUntilClosed(conn);
    let open = true;
    closed.then(() => open = false);
    for (let i = 0; open && i < request.length; i++) {
      try {
        await conn.write(request.subarray(i, i + 1));
      } catch {
        break;
      }
      await Promise.race([sleep(5000), closed]);
    }
    const ended = await within(closed.then(() => true), 60_000, false);
    conn.close();
    return ended;
  };
  const half = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await conn.write(request.subarray(0, 20));
    const ended = await within(readUntilClosed(conn).then(() => true), 60_000, false);
    conn.close();
    return ended;
  };
  const results = await Promise.all([half(), ...Array.from({ length: 1000 }, trickle)]);
  assertEquals(results.filter((r) => !r).length, 0);
  await listener.close();
});

Deno.test("bounds: 1,000 peers that never answer the server's Close lose their TCP connections", async () => {
  const listener = await WsListener.listen({ closeGraceMs: 1000 });
  const peers = await Promise.all(
    Array.from({ length: 1000 }, () => rawWebSocket(listener.addr.port)),
  );
  for (let i = 0; i < peers.length; i++) (await listener.accept()).conn.close();
  // The peers read (and so see the Close) but never answer it.
  const ended = await Promise.all(
    peers.map((p) => within(readUntilClosed(p).then(() => true), 60_000, false)),
  );
  assertEquals(ended.filter((e) => !e).length, 0);
  assertEquals(listener.size, 0);
  for (const p of peers) p.close();
  await listener.close();
});

Deno.test("bounds: a consumer that stops reading pauses the peer instead of buffering", async () => {
  const listener = await WsListener.listen({ readHighWaterMark: 256 * 1024 });
  const peer = await rawWebSocket(listener.addr.port);
  const accepted = await listener.accept();
  const data = seededBytes(64 * MiB, 3);
  const message = 64 * 1024;
  const writing = writeUntilRefused(
    peer,
    (() => {
      let off = 0;
      return () => {
        if (off >= data.length) return null;
        const frame = clientFrame(2, data.subarray(off, off + message));
        off += message;
        return frame;
      };
    })(),
  );
  const stalled = await within(writing.then(() => false), 2000, true);
  assert(stalled, "64 MiB went in although nobody read");
  const reader = accepted.conn.readable.getReader();
  let have = 0;
  let same = true;
  while (have < data.length) {
    const { value, done } = await reader.read();
    if (done) break;
    for (let i = 0; i < value.length && same; i += 4096) same = value[i] === data[have + i];
    have += value.length;
  }
  assertEquals(
    await writing,
    data.length + (data.length / message) * clientFrameHeader(2, message).length,
  );
  assertEquals(have, data.length);
  assert(same, "bytes differ");
  peer.close();
  await listener.close();
});

async function selfSigned(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${dir}/${name}.key`,
      "-out",
      `${dir}/${name}.pem`,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return {
    cert: await Deno.readTextFile(`${dir}/${name}.pem`),
    key: await Deno.readTextFile(`${dir}/${name}.key`),
  };
}

function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const cn = sock.getPeerCertificate().subject.CN;
      sock.destroy();
      resolve(String(cn));
    });
    sock.on("error", reject);
  });
}

Deno.test("websocket: the ws listener serves TLS and reloads its certificate for new connections", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await selfSigned(dir, "first");
    const second = await selfSigned(dir, "second");
    const listener = await WsListener.listen({ tls: first });
    assertEquals(await servedName(listener.addr.port), "first");
    listener.reloadTls(second.cert, second.key);
    assertEquals(await servedName(listener.addr.port), "second");
    await listener.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("websocket: the ws listener closes a connection that sends no message for idleTimeoutMs", async () => {
  const listener = await WsListener.listen({ idleTimeoutMs: 300 });
  const peer = await rawWebSocket(listener.addr.port);
  const accepted = await listener.accept();
  await peer.write(clientFrame(2, new Uint8Array([1, 2, 3])));
  const reader = accepted.conn.readable.getReader();
  assertEquals((await reader.read()).value, new Uint8Array([1, 2, 3]));
  // Then silence: the server closes with 1000; the readable ends cleanly once the peer answers.
  assertEquals(await within(closeCodeOf(peer), 30_000, -2), 1000);
  await peer.write(clientFrame(8, new Uint8Array([0x03, 0xe8])));
  peer.close();
  assertEquals((await reader.read()).done, true);
  await listener.close();
});
