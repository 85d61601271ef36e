import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { memoryConnPair, TimeoutError } from "../net/mod.ts";
import {
  acceptSocks,
  encodeClientArgs,
  parseClientArgs,
  SOCKS4_MAX_USERID,
  SOCKS5_REPLY,
  socks5Reply,
  SocksError,
  SocksHandshake,
  type SocksRequest,
  splitClientArgs,
} from "./socks.ts";

const enc = new TextEncoder();
const bytes = (...parts: (number[] | Uint8Array | string)[]) => {
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === "string" ? enc.encode(p) : p));
  return new Uint8Array(out);
};

/** What tor sends for SOCKS5 with username/password carrying `args`. */
function socks5Hello(args: string | null, target: number[]): Uint8Array {
  if (args === null) return bytes([5, 1, 0], [5, 1, 0], target);
  const { username, password } = splitClientArgs(args);
  return bytes(
    [5, 1, 2],
    [1, username.length],
    username,
    [password.length],
    password,
    [5, 1, 0],
    target,
  );
}

const IPV4_TARGET = [1, 192, 0, 2, 3, 0, 80];

/** Feeds `input` in chunks of `size` and returns the request and all output. */
function drive(input: Uint8Array, size = input.length): { req: SocksRequest; out: number[] } {
  const hs = new SocksHandshake();
  const out: number[] = [];
  for (let off = 0; off < input.length; off += size) {
    const step = hs.feed(input.subarray(off, off + size));
    for (const o of step.out) out.push(...o);
    if (step.request) return { req: step.request, out };
  }
  throw new Error("handshake incomplete");
}

Deno.test("codec: SOCKS5 no-auth CONNECT to IPv4, byte by byte", () => {
  const { req, out } = drive(socks5Hello(null, IPV4_TARGET), 1);
  assertEquals(out, [5, 0]);
  assertEquals(req.version, 5);
  assertEquals(req.target, { kind: "ipv4", host: "192.0.2.3", port: 80 });
  assertEquals(req.args.size, 0);
});

Deno.test("codec: SOCKS5 username/password carries PT args; NUL password means none", () => {
  const args = encodeClientArgs([["url", "https://x/"], ["fronts", "a.example,b.example"]]);
  const { req, out } = drive(socks5Hello(args, IPV4_TARGET));
  assertEquals(out, [5, 2, 1, 0]);
  assertEquals(req.rawArgs, "url=https://x/;fronts=a.example,b.example");
  assertEquals(req.args.get("url"), ["https://x/"]);
  assertEquals(req.args.get("fronts"), ["a.example,b.example"]);
});

Deno.test("codec: long PT args are split across username and password", () => {
  const long = "x".repeat(400);
  const args = encodeClientArgs([["ice", long], ["k", "v;w=z\\"]]);
  const { username, password } = splitClientArgs(args);
  assertEquals(username.length, 255);
  assert(password.length > 1);
  const { req } = drive(socks5Hello(args, IPV4_TARGET), 7);
  assertEquals(req.args.get("ice"), [long]);
  assertEquals(req.args.get("k"), ["v;w=z\\"]);
  assertThrows(() => splitClientArgs("k=" + "v".repeat(600)), RangeError);
});

Deno.test("codec: SOCKS5 domain and IPv6 targets", () => {
  const domain = drive(socks5Hello(null, [3, 11, ...enc.encode("example.com"), 1, 187])).req;
  assertEquals(domain.target, { kind: "domain", host: "example.com", port: 443 });
  const v6 = [4, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0x1f, 0x90];
  assertEquals(drive(socks5Hello(null, v6)).req.target, {
    kind: "ipv6",
    host: "2001:db8::1",
    port: 8080,
  });
});

Deno.test("codec: SOCKS4 and SOCKS4a, args in USERID", () => {
  const v4 = drive(bytes([4, 1, 0, 80, 192, 0, 2, 3], "a=b\\;c", [0])).req;
  assertEquals(v4.version, 4);
  assertEquals(v4.target, { kind: "ipv4", host: "192.0.2.3", port: 80 });
  assertEquals(v4.args.get("a"), ["b;c"]);
  const v4a = drive(bytes([4, 1, 1, 187, 0, 0, 0, 9], [0], "bridge.example", [0]), 3).req;
  assertEquals(v4a.target, { kind: "domain", host: "bridge.example", port: 443 });
});

Deno.test("codec: early data after the request is returned as rest", () => {
  const hs = new SocksHandshake();
  const step = hs.feed(bytes(socks5Hello(null, IPV4_TARGET), "hello"));
  assertEquals(new TextDecoder().decode(step.rest), "hello");
  assertThrows(() => hs.feed(new Uint8Array(1)), TypeError);
});

Deno.test("codec: bad handshakes throw typed errors with the right failure reply", () => {
  const fail = (input: Uint8Array) => {
    try {
      new SocksHandshake().feed(input);
    } catch (e) {
      return e;
    }
    throw new Error("no error");
  };
  // Each input is one chunk, so the reply includes the method selection sent before the failure.
  const cases: [Uint8Array, number[] | null][] = [
    [bytes([6]), null], // version
    [bytes([5, 0]), null], // no methods
    [bytes([5, 1, 1]), [5, 0xff]], // GSSAPI only
    [bytes([5, 1, 2], [2, 1, 0x61, 1, 0]), [5, 2, 1, 1]], // auth version
    [bytes([5, 1, 2], [1, 1, 0x61, 1, 0]), [5, 2, 1, 1]], // args without "="
    [bytes([5, 1, 2], [1, 2, 0x3d, 0x76, 1, 0]), [5, 2, 1, 1]], // empty key
    [bytes([5, 1, 2], [1, 3, 0x61, 0x3d, 0x5c, 1, 0]), [5, 2, 1, 1]], // terminal backslash
    [bytes([5, 1, 2], [1, 3, 0x61, 0x3d, 0xff, 1, 0]), [5, 2, 1, 1]], // not UTF-8
    [bytes([5, 1, 0], [5, 2, 0, 1, 1, 2, 3, 4, 0, 80]), [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]], // BIND
    [bytes([5, 1, 0], [5, 1, 0, 9]), [5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0]], // address type
    [bytes([5, 1, 0], [5, 1, 1, 1]), [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]], // reserved byte
    [bytes([5, 1, 0], [5, 1, 0, 3, 0]), [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]], // empty domain
    [bytes([4, 2, 0, 80, 1, 2, 3, 4, 0]), [0, 0x5b, 0, 0, 0, 0, 0, 0]], // SOCKS4 BIND
    [bytes([4, 1, 0, 80, 0, 0, 0, 1, 0, 0]), [0, 0x5b, 0, 0, 0, 0, 0, 0]], // empty 4a host
  ];
  for (const [input, reply] of cases) {
    const e = fail(input);
    assert(e instanceof SocksError && e instanceof SyntaxError, `${input}: ${e}`);
    assertEquals(e.reply ? [...e.reply] : null, reply, `reply for ${input}`);
  }
  const long = bytes([4, 1, 0, 80, 1, 2, 3, 4], new Uint8Array(SOCKS4_MAX_USERID + 1).fill(0x61));
  assert(fail(long) instanceof RangeError, "USERID bound");
});

Deno.test("codec: PT args grammar", () => {
  assertEquals(parseClientArgs("").size, 0);
  assertEquals(parseClientArgs("a=").get("a"), [""]);
  assertEquals(parseClientArgs("a=1;a=2;b=x=y").get("a"), ["1", "2"]);
  assertEquals(parseClientArgs("a=1;a=2;b=x=y").get("b"), ["x=y"]);
  assertEquals(parseClientArgs("k\\=\\;=v\\\\").get("k=;"), ["v\\"]);
  for (const bad of ["a", "=v", "a=1;b", "a=\\"]) {
    assertThrows(() => parseClientArgs(bad), SyntaxError, undefined);
  }
  const pairs: [string, string][] = [["we;ird=", "va\\l;=ue"], ["k", ""]];
  const back = parseClientArgs(encodeClientArgs(pairs));
  assertEquals([...back].map(([k, v]) => [k, v[0]]), pairs);
});

Deno.test("codec: reply encoders", () => {
  assertEquals([...socks5Reply(0, { ip: "10.0.0.1", port: 258 })], [5, 0, 0, 1, 10, 0, 0, 1, 1, 2]);
  assertThrows(() => socks5Reply(256), RangeError);
  assertThrows(() => socks5Reply(0, { ip: "::1", port: 1 }), TypeError);
});

/**
 * A memory conn pair whose client side sends `chunks` (without waiting: memory writes
 * resolve only once read) and collects everything the server side writes back.
 */
function overMemory(chunks: Uint8Array[]) {
  const [client, server] = memoryConnPair();
  const w = client.writable.getWriter();
  for (const c of chunks) w.write(c).catch(() => {});
  const got: number[] = [];
  (async () => {
    for await (const chunk of client.readable) got.push(...chunk);
  })().catch(() => {});
  const readN = async (n: number) => {
    for (let i = 0; i < 200 && got.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    return got.slice(0, n);
  };
  return { server, w, readN };
}

Deno.test("pt: acceptSocks over a conn grants, then relays early and later bytes", async () => {
  const { server, w, readN } = overMemory([
    socks5Hello("url=ws://x/", IPV4_TARGET).subarray(0, 5),
  ]);
  const accepting = acceptSocks(server);
  w.write(bytes(socks5Hello("url=ws://x/", IPV4_TARGET).subarray(5), "early"));
  const s = await accepting;
  assertEquals(s.request.args.get("url"), ["ws://x/"]);
  await s.grant();
  const replies = await readN(2 + 2 + 10);
  assertEquals(replies, [5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  w.write(enc.encode("later"));
  const r = s.readable.getReader();
  assertEquals(new TextDecoder().decode((await r.read()).value), "early");
  assertEquals(new TextDecoder().decode((await r.read()).value), "later");
  await assertRejects(() => s.grant(), TypeError);
});

Deno.test("pt: acceptSocks sends the refusal and rejects on a bad request", async () => {
  const { server, readN } = overMemory([bytes([5, 1, 0], [5, 2, 0, 1, 1, 2, 3, 4, 0, 80])]);
  await assertRejects(() => acceptSocks(server), SocksError);
  assertEquals(await readN(12), [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
});

Deno.test("pt: acceptSocks rejects with reject() code and on EOF / timeout", async () => {
  const a = overMemory([bytes([4, 1, 0, 80, 1, 2, 3, 4, 0])]);
  const s = await acceptSocks(a.server);
  await s.reject(SOCKS5_REPLY.connectionRefused);
  assertEquals(await a.readN(8), [0, 0x5b, 0, 0, 0, 0, 0, 0]);

  const b = overMemory([bytes([5, 1])]);
  const pending = acceptSocks(b.server);
  b.w.close().catch(() => {});
  await assertRejects(() => pending, SocksError);

  const c = overMemory([bytes([5])]);
  await assertRejects(() => acceptSocks(c.server, { timeoutMs: 20 }), TimeoutError);

  const d = overMemory([bytes([5, 1, 0])]);
  const abort = new AbortController();
  const aborted = acceptSocks(d.server, { signal: abort.signal });
  abort.abort(new RangeError("stop"));
  await assertRejects(() => aborted, RangeError);
});
