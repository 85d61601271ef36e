import { assert, assertEquals } from "../testing/assert.ts";
import { HostPortAddr } from "../net/addr.ts";
import { loadTunnelCipher } from "./cipher.ts";
import { TunnelManualClock } from "./clock.ts";
import { openCookieChallenge } from "./cookie.ts";
import { buildTunnelFloodInitiation } from "./flood.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
} from "./handshake.ts";
import { TunnelKeyPair } from "./keys.ts";
import { memoryTunPair } from "./memory.ts";
import * as m from "./messages.ts";
import { TunnelServer } from "./server.ts";
import { CaptureConn } from "./testutil_test.ts";

const cipher = await loadTunnelCipher();

function setup(
  opts: {
    rateLimit?: { perSecond: number; burst: number };
    cookies?: "always" | "under-load";
    log?: (line: string) => void;
  } = {},
) {
  const clock = new TunnelManualClock();
  const serverKey = TunnelKeyPair.generate();
  const clients = [TunnelKeyPair.generate(), TunnelKeyPair.generate()];
  const cap = new CaptureConn();
  const server = new TunnelServer({
    cookies: opts.cookies ?? "always",
    privateKey: serverKey.privateKey,
    tunnelIp: "10.9.0.1",
    peers: clients.map((c, i) => ({ publicKey: c.publicKey, tunnelIp: `10.9.0.${i + 2}` })),
    tun: memoryTunPair().device,
    bind: cap,
    clock,
    cipher,
    tickMs: 0,
    rateLimit: opts.rateLimit,
    log: opts.log,
  });
  return { clock, serverKey, clients, cap, server };
}

type Setup = ReturnType<typeof setup>;

/** INIT → challenge → INIT_WITH_COOKIE from `from`; returns the last message the server sent. */
function handshake(t: Setup, client: TunnelKeyPair, from: HostPortAddr, serverPub?: Uint8Array) {
  const pub = serverPub ?? t.serverKey.publicKey;
  const first = createInitiation(cipher, client, pub, 1, t.clock.now());
  const before = t.cap.sent.length;
  t.server.receive(first.message, from);
  const ch = t.cap.sent[before];
  if (!ch) return { init: first, reply: undefined };
  const cookie = openCookieChallenge(cipher, pub, first.mac1, m.decodeCookieChallenge(ch.data));
  assert(cookie, "cookie opens");
  t.clock.advance(1);
  const init = createInitiation(cipher, client, pub, 2, t.clock.now(), cookie);
  const n = t.cap.sent.length;
  t.server.receive(init.message, from);
  return { init, reply: t.cap.sent[n]?.data, cookie };
}

const A = new HostPortAddr("udp", "198.51.100.2", 40000);

Deno.test("handshake: mutual authentication gives matching keys on both sides", () => {
  const t = setup();
  const { init, reply } = handshake(t, t.clients[0]!, A);
  assert(reply && m.messageType(reply) === m.MSG_RESPONSE);
  const keys = consumeResponse(cipher, t.clients[0]!, init, reply);
  assert(keys, "client accepts the server's response");
  assertEquals(t.server.stats().counters.handshakes, 1);
  assertEquals(t.server.stats().counters.dhUnverified, 0);
  assertEquals(t.server.stats().peers[0]!.endpoint, A.toString());
});

Deno.test("handshake: a response from a server without the expected key is refused", () => {
  const client = TunnelKeyPair.generate();
  const real = TunnelKeyPair.generate();
  const impostor = TunnelKeyPair.generate();
  const init = createInitiation(cipher, client, real.publicKey, 1, Date.now());
  // The impostor cannot even open the initiation meant for the real server.
  assertEquals(consumeInitiation(cipher, impostor, init.message, (p) => impostor.dh(p)), "auth");
  // Nor forge a response: one made for an initiation to itself does not verify.
  const own = createInitiation(cipher, client, impostor.publicKey, 1, Date.now());
  const rec = consumeInitiation(cipher, impostor, own.message, (p) => impostor.dh(p));
  assert(typeof rec !== "string");
  const resp = createResponse(cipher, rec, 9)!;
  assertEquals(consumeResponse(cipher, client, init, resp.message), null);
  // A tampered genuine response fails too.
  const rr = consumeInitiation(cipher, real, init.message, (p) => real.dh(p));
  assert(typeof rr !== "string");
  const good = createResponse(cipher, rr, 10)!.message;
  for (const i of [12, 44, 59]) {
    const bad = good.slice();
    bad[i]! ^= 0x80;
    assertEquals(consumeResponse(cipher, client, init, bad), null, `byte ${i}`);
  }
  assert(consumeResponse(cipher, client, init, good));
});

Deno.test("handshake: an initiation for the wrong server key is dropped on mac1 (auth)", () => {
  const t = setup();
  const wrong = TunnelKeyPair.generate().publicKey;
  const { reply } = handshake(t, t.clients[0]!, A, wrong);
  assertEquals(reply, undefined);
  assertEquals(t.cap.sent.length, 0);
  assertEquals(t.server.stats().drops.auth, 1);
  assertEquals(t.server.stats().counters.dhOperations, 0);
});

Deno.test("handshake: an unknown client key is refused (acl) and gets no response", () => {
  const t = setup();
  const stranger = TunnelKeyPair.generate();
  const { reply } = handshake(t, stranger, A);
  assertEquals(reply, undefined);
  const s = t.server.stats();
  assertEquals(s.drops.acl, 1);
  assertEquals(s.counters.handshakes, 0);
  assertEquals(s.counters.dhOperations, 1, "only the es DH that reveals the key");
});

Deno.test("handshake: a replayed initiation (same timestamp) is refused", () => {
  const t = setup();
  const { init, reply } = handshake(t, t.clients[0]!, A);
  assert(reply);
  const n = t.cap.sent.length;
  t.server.receive(init.message, A);
  t.server.receive(init.message, new HostPortAddr("udp", "198.51.100.2", 40000));
  assertEquals(t.cap.sent.length, n, "no second response");
  const s = t.server.stats();
  assertEquals(s.drops.replay, 2);
  assertEquals(s.counters.handshakes, 1);
});

Deno.test("cookie: an initiation without a cookie gets a challenge and costs no DH", () => {
  const t = setup();
  const init = createInitiation(cipher, t.clients[0]!, t.serverKey.publicKey, 77, t.clock.now());
  t.server.receive(init.message, A);
  assertEquals(t.cap.sent.length, 1);
  const ch = m.decodeCookieChallenge(t.cap.sent[0]!.data);
  assertEquals(ch.receiver, 77);
  const s = t.server.stats();
  assertEquals([s.drops.cookie, s.counters.cookieReplies, s.counters.dhOperations], [1, 1, 0]);
});

Deno.test("cookie: bound to the source port, valid for the next period, stale after two", () => {
  const t = setup({ rateLimit: { perSecond: 1000, burst: 1000 } });
  const { cookie } = handshake(t, t.clients[0]!, A);
  assert(cookie);
  const send = (from: HostPortAddr) => {
    t.clock.advance(1);
    const i = createInitiation(
      cipher,
      t.clients[0]!,
      t.serverKey.publicKey,
      3,
      t.clock.now(),
      cookie,
    );
    const n = t.cap.sent.length;
    t.server.receive(i.message, from);
    return m.messageType(t.cap.sent[n]!.data);
  };
  assertEquals(send(new HostPortAddr("udp", "198.51.100.2", 40001)), m.MSG_COOKIE_CHALLENGE);
  assertEquals(send(new HostPortAddr("udp", "198.51.100.9", 40000)), m.MSG_COOKIE_CHALLENGE);
  assertEquals(send(A), m.MSG_RESPONSE);
  t.clock.advance(120_000);
  assertEquals(send(A), m.MSG_RESPONSE, "previous period's secret still accepted");
  t.clock.advance(240_000);
  assertEquals(send(A), m.MSG_COOKIE_CHALLENGE, "two periods later the cookie is stale");
});

Deno.test("cookie: under 50,000 spoofed initiations DH stays within budget; a real client gets in", () => {
  const t = setup({ cookies: "under-load" });
  const pub = t.serverKey.publicKey;
  for (let i = 0; i < 50_000; i++) {
    const src = new HostPortAddr(
      "udp",
      `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      1024 + (i % 60000),
    );
    t.server.receive(buildTunnelFloodInitiation(pub), src);
    if (t.cap.sent.length > 1000) t.cap.sent.length = 0;
  }
  let s = t.server.stats();
  // The clock stands still: the unproven budget (100) is spent once, then the
  // server is under load and the global cookie budget (2000) is spent once.
  assertEquals(s.counters.dhUnverified, 100);
  assertEquals(s.counters.dhOperations, 100);
  assertEquals(s.counters.cookieReplies, 2000);
  assertEquals(s.drops.cookie, 2000);
  assertEquals(s.drops.cookieBudget, 50_000 - 100 - 2000);
  t.clock.advance(10); // refills 20 cookie replies; still under load
  t.cap.sent.length = 0;
  const { init, reply } = handshake(t, t.clients[1]!, A);
  assert(reply && consumeResponse(cipher, t.clients[1]!, init, reply));
  s = t.server.stats();
  assertEquals(s.counters.handshakes, 1);
  assertEquals(s.counters.dhUnverified, 100);
});

Deno.test("cookie: a quiet server answers an initiation at once, with no challenge", () => {
  const t = setup({ cookies: "under-load" });
  const init = createInitiation(cipher, t.clients[0]!, t.serverKey.publicKey, 1, t.clock.now());
  t.server.receive(init.message, A);
  const reply = t.cap.sent[0]?.data;
  assert(reply && consumeResponse(cipher, t.clients[0]!, init, reply));
  const s = t.server.stats();
  assertEquals([s.counters.handshakes, s.counters.cookieReplies, s.drops.cookie], [1, 0, 0]);
});

Deno.test("cookie: verified handshakes over the per-source rate limit are dropped (ratelimit)", () => {
  const t = setup({ rateLimit: { perSecond: 1, burst: 3 } });
  let responses = 0;
  for (let i = 0; i < 6; i++) {
    const { reply } = handshake(t, t.clients[0]!, A);
    if (reply && m.messageType(reply) === m.MSG_RESPONSE) responses++;
  }
  assertEquals(responses, 3);
  assertEquals(t.server.stats().drops.ratelimit, 3);
  t.clock.advance(2000);
  const { reply } = handshake(t, t.clients[0]!, A);
  assertEquals(m.messageType(reply!), m.MSG_RESPONSE, "the bucket refills");
});

Deno.test("handshake: every handshake derives fresh transport keys (ephemeral keys)", () => {
  const t = setup({ rateLimit: { perSecond: 100, burst: 100 } });
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    t.clock.advance(10);
    const { init, reply } = handshake(t, t.clients[0]!, A);
    const keys = consumeResponse(cipher, t.clients[0]!, init, reply!)!;
    seen.add(keys.sendKey.join(",")).add(keys.recvKey.join(","));
  }
  assertEquals(seen.size, 6);
});

Deno.test("cli: failed handshakes are logged with the reason, once per source per minute", () => {
  const lines: string[] = [];
  const t = setup({ cookies: "under-load", log: (l) => lines.push(l) });
  const stranger = TunnelKeyPair.generate();
  const B = new HostPortAddr("udp", "198.51.100.9", 40000);
  for (let i = 0; i < 5; i++) {
    const init = createInitiation(cipher, stranger, t.serverKey.publicKey, 1, t.clock.now() + i);
    t.server.receive(init.message, A);
  }
  const wrongKey = createInitiation(cipher, t.clients[0]!, stranger.publicKey, 1, t.clock.now());
  t.server.receive(wrongKey.message, B);
  t.server.receive(wrongKey.message, B);
  assertEquals(lines.length, 2, lines.join("\n"));
  assert(lines[0]!.includes(`${A} failed: unknown client key`), lines[0]);
  assert(lines[1]!.includes(`${B} failed: bad mac1`), lines[1]);
  t.clock.advance(60_000);
  const again = createInitiation(cipher, stranger, t.serverKey.publicKey, 1, t.clock.now());
  t.server.receive(again.message, A);
  assertEquals(lines.length, 3, "a minute later the source is logged again");
});
