// The broker's HTTP/1.1 server (proxy/broker/http1.ts) over real loopback TCP, byte by byte.
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { mulberry32, randomBytes } from "../../lib/testing/fuzz.ts";
import { type HttpRequest, serveHttp1 } from "../../proxy/broker/http1.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts a server whose handler echoes method, target, a header and the body. */
function start(opts: { requestTimeoutMs?: number; idleTimeoutMs?: number } = {}) {
  const held: HttpRequest[] = [];
  const server = serveHttp1(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    (req) => {
      if (req.target === "/hold") {
        held.push(req);
        return new Promise((resolve) =>
          req.signal.addEventListener("abort", () => resolve(new Response("gone")))
        );
      }
      return Promise.resolve(
        new Response(`${req.method} ${req.target} ${req.header("X-Test")} ${req.body}`, {
          headers: { "Content-Type": "text/plain" },
        }),
      );
    },
    { maxBodyBytes: 1000, maxHeadBytes: 2048, ...opts },
  );
  return { server, held };
}

/** Sends raw bytes and reads until the server closes or `until` matches what was read. */
async function raw(port: number, parts: (string | Uint8Array)[], until?: RegExp): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  for (const p of parts) {
    // The server may have refused and closed already.
    const sent = await conn.write(typeof p === "string" ? encoder.encode(p) : p).catch(() => null);
    if (sent === null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  let text = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
    if (until?.test(text)) break;
  }
  conn.close();
  return text;
}

Deno.test("broker: http1 serves keep-alive, pipelined, chunked and 100-continue requests", async () => {
  const { server } = start();
  const port = server.addr.port;
  try {
    const two = await raw(port, [
      "POST /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: one\r\nContent-Length: 3\r\n\r\nabc" +
      "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Test: two\r\n\r\n",
      "2\r\nde\r\n",
      "1;ext=1\r\nf\r\n0\r\n\r\n",
    ], /POST \/b two def/);
    assert(two.includes("content-length: 19\r\n\r\nPOST /a?x=1 one abc"), two);
    assert(two.includes("POST /b two def"), two);
    const cont = await raw(port, [
      "POST /c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
      "hi",
    ], /POST \/c null hi/);
    assert(cont.startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), cont);
    const closed = await raw(port, ["GET /d HTTP/1.0\r\n\r\n"]);
    assert(closed.includes("connection: close") && closed.endsWith("GET /d null "), closed);
  } finally {
    await server.shutdown();
  }
});

Deno.test("broker: http1 refuses bad and oversized requests and slow heads", async () => {
  const { server } = start({ requestTimeoutMs: 300 });
  const port = server.addr.port;
  try {
    assert((await raw(port, ["NONSENSE\r\n\r\n"])).startsWith("HTTP/1.1 400 "));
    assert(
      (await raw(port, ["POST / HTTP/1.1\r\nBad Header\r\n\r\n"])).startsWith("HTTP/1.1 400 "),
    );
    assert(
      (await raw(port, ["POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"])).startsWith(
        "HTTP/1.1 400 ",
      ),
    );
    assert(
      (await raw(port, ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"])).startsWith(
        "HTTP/1.1 400 ",
      ),
    );
    const big = "GET / HTTP/1.1\r\nX-Pad: " + "a".repeat(4096) + "\r\n\r\n";
    assert((await raw(port, [big])).startsWith("HTTP/1.1 431 "));
    const chunkedTooBig = await raw(port, [
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + "x".repeat(1001) +
      "\r\n0\r\n\r\n",
    ]);
    assert(chunkedTooBig.startsWith("HTTP/1.1 400 "), chunkedTooBig);
    // A head that never completes is cut off at the request deadline.
    const t0 = performance.now();
    const slow = await raw(port, ["POST / HTTP/1.1\r\nHost: h\r\n"]);
    assert(slow === "" || slow.startsWith("HTTP/1.1 408 "), slow);
    assert(performance.now() - t0 < 5000, "the slow head was not cut off");
  } finally {
    await server.shutdown();
  }
});

Deno.test("broker: http1 tells a held request when its client disconnects", async () => {
  const { server, held } = start();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(encoder.encode("POST /hold HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assertEquals(held.length, 1);
    assert(!held[0]!.signal.aborted);
    conn.close();
    for (let i = 0; i < 100 && !held[0]!.signal.aborted; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert(held[0]!.signal.aborted, "no abort after the client left");
  } finally {
    await server.shutdown();
  }
});

Deno.test("fuzz: broker http1 survives random bytes and keeps serving", async () => {
  const { server } = start({ requestTimeoutMs: 200, idleTimeoutMs: 200 });
  const port = server.addr.port;
  const rand = mulberry32(0xb40c3);
  try {
    for (let i = 0; i < 60; i++) {
      const junk = randomBytes(rand, 1 + Math.floor(rand() * 3000));
      // Half the cases look like a request line first, so the header parser sees the junk.
      const parts = i % 2 ? [junk] : ["POST / HTTP/1.1\r\n", junk, "\r\n\r\n"];
      await raw(port, parts);
    }
    const ok = await raw(port, ["GET /alive HTTP/1.1\r\nX-Test: y\r\n\r\n"], /GET \/alive y /);
    assert(ok.startsWith("HTTP/1.1 200 OK"), ok);
  } finally {
    await server.shutdown();
  }
});
