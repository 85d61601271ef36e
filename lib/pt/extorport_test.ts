import { assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { readFull } from "../net/io.ts";
import {
  AUTH_COOKIE_HEADER,
  dialOr,
  encodeExtOrCommand,
  EXTOR_DENY,
  EXTOR_HANDSHAKE_TIMEOUT_MS,
  EXTOR_OKAY,
  parseAuthCookie,
  safeCookieHashes,
  userAddrFromIP,
} from "./extorport.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const range = (a: number, n: number) => Uint8Array.from({ length: n }, (_, i) => a + i);

Deno.test("codec: SAFE_COOKIE hashes match a known answer", async () => {
  // Vector computed independently with Python's hmac module.
  const h = await safeCookieHashes(range(0, 32), range(32, 32), range(64, 32));
  assertEquals(
    hex(h.serverHash),
    "67cb22838690cf4c49434d4ea3164fbdcc936e46fd90ee62f511639a8456d133",
  );
  assertEquals(
    hex(h.clientHash),
    "4becde5c2fe8a9fed908d74f79be128d73abfbf82c009d3bdc17b4bc02740d58",
  );
});

Deno.test("codec: ExtORPort commands, cookie file and USERADDR form", () => {
  assertEquals(
    hex(encodeExtOrCommand(2, new TextEncoder().encode("snowflake"))),
    "00020009736e6f77666c616b65",
  );
  assertEquals(hex(encodeExtOrCommand(0)), "00000000");
  const file = new Uint8Array(64);
  file.set(AUTH_COOKIE_HEADER);
  file.set(range(7, 32), 32);
  assertEquals(parseAuthCookie(file), range(7, 32));
  assertThrows(() => parseAuthCookie(file.subarray(1)), RangeError);
  assertThrows(() => parseAuthCookie(new Uint8Array(64)), SyntaxError);
  assertEquals(userAddrFromIP("1.2.3.4"), "1.2.3.4:1");
  assertEquals(userAddrFromIP("2001:db8::1"), "[2001:db8::1]:1");
});

/** A fake tor ExtORPort: SAFE_COOKIE server side, records the commands, replies `reply`. */
function fakeExtOr(cookie: Uint8Array, reply: number, badHash = false) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: { type: number; body: string }[] = [];
  const done = (async () => {
    const c = await l.accept();
    l.close();
    try {
      await c.write(new Uint8Array([3, 1, 0]));
      const [t] = await readFull(c, 1);
      assertEquals(t, 1);
      const cn = await readFull(c, 32);
      const sn = range(100, 32);
      const h = await safeCookieHashes(cookie, cn, sn);
      if (badHash) h.serverHash[0]! ^= 1;
      await c.write(new Uint8Array([...h.serverHash, ...sn]));
      const ch = await readFull(c, 32);
      await c.write(new Uint8Array([hex(ch) === hex(h.clientHash) ? 1 : 0]));
      for (;;) {
        const hdr = await readFull(c, 4);
        const type = (hdr[0]! << 8) | hdr[1]!;
        const body = await readFull(c, (hdr[2]! << 8) | hdr[3]!);
        seen.push({ type, body: new TextDecoder().decode(body) });
        if (type === 0) break;
      }
      await c.write(encodeExtOrCommand(reply));
      await c.write(new TextEncoder().encode("OR"));
    } catch {
      // the client gave up
    }
    return c;
  })();
  return { port: (l.addr as Deno.NetAddr).port, seen, done };
}

Deno.test("pt: dialOr authenticates and sends USERADDR and TRANSPORT to a fake ExtORPort", async () => {
  const cookie = range(9, 32);
  const fake = fakeExtOr(cookie, EXTOR_OKAY);
  const conn = await dialOr(
    { orAddr: null, extendedOrAddr: { hostname: "127.0.0.1", port: fake.port }, cookie },
    { userAddr: "[2001:db8::1]:1", transport: "snowflake" },
  );
  assertEquals(new TextDecoder().decode(await readFull(conn as Deno.Conn, 2)), "OR");
  conn.close();
  (await fake.done).close();
  assertEquals(fake.seen, [
    { type: 1, body: "[2001:db8::1]:1" },
    { type: 2, body: "snowflake" },
    { type: 0, body: "" },
  ]);
});

Deno.test("pt: dialOr fails on DENY and on a bad server hash", async () => {
  const cookie = range(9, 32);
  for (const [reply, bad] of [[EXTOR_DENY, false], [EXTOR_OKAY, true]] as const) {
    const fake = fakeExtOr(cookie, reply, bad);
    await assertRejects(() =>
      dialOr(
        { orAddr: null, extendedOrAddr: { hostname: "127.0.0.1", port: fake.port }, cookie },
        { transport: "snowflake" },
      )
    );
    (await fake.done).close();
  }
});

Deno.test("pt: dialOr uses the plain ORPort without an ExtORPort", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = l.accept();
  const conn = await dialOr(
    {
      orAddr: { hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port },
      extendedOrAddr: null,
      cookie: null,
    },
    { userAddr: "1.2.3.4:1", transport: "snowflake" },
  );
  const peer = await accepted;
  await conn.write(new Uint8Array([42]));
  assertEquals(await readFull(peer, 1), new Uint8Array([42]));
  conn.close();
  peer.close();
  l.close();
});

Deno.test("bounds: an ExtORPort that never answers fails the handshake after 5 s", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = l.accept();
  const started = Date.now();
  const dialed = dialOr(
    {
      orAddr: null,
      extendedOrAddr: { hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port },
      cookie: range(9, 32),
    },
    { transport: "snowflake" },
  );
  const silent = await accepted;
  let guard: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    dialed.then(() => "connected", (e: Error) => e.name),
    new Promise<string>((r) => guard = setTimeout(() => r("still waiting"), 60_000)),
  ]);
  clearTimeout(guard);
  assertEquals(outcome, "TimeoutError");
  assertEquals(Date.now() - started >= EXTOR_HANDSHAKE_TIMEOUT_MS - 50, true);
  // tor's side sees the connection closed.
  assertEquals(await silent.read(new Uint8Array(1)), null);
  silent.close();
  l.close();
});
