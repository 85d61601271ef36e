import { assert, assertEquals } from "../testing/assert.ts";
import { randomBytes, randomInt, xorshift32 } from "../testing/fuzz.ts";
import { HostPortAddr } from "../net/addr.ts";
import { loadTunnelCipher } from "./cipher.ts";
import { TunnelManualClock } from "./clock.ts";
import { openCookieChallenge } from "./cookie.ts";
import { TunnelClient } from "./client.ts";
import { createInitiation } from "./handshake.ts";
import { parseTunnelIPv4 } from "./ipv4.ts";
import { decodeTunnelKey, TunnelKeyPair } from "./keys.ts";
import { memoryTunPair } from "./memory.ts";
import * as m from "./messages.ts";
import { TunnelServer } from "./server.ts";
import { CaptureConn, ipv4Packet, text } from "./testutil_test.ts";

const N = 100_000;
const cipher = await loadTunnelCipher();

function mutate(r: () => number, seed: Uint8Array): Uint8Array {
  switch (randomInt(r, 6)) {
    case 0: {
      const out = randomBytes(r, randomInt(r, 200));
      if (out.length > 0 && randomInt(r, 2)) out[0] = randomInt(r, 8);
      if (out.length > 3 && randomInt(r, 2)) out[1] = out[2] = out[3] = 0;
      return out;
    }
    case 1:
      return seed.slice(0, randomInt(r, seed.length + 1));
    case 2: {
      const out = new Uint8Array(seed.length + 1 + randomInt(r, 40));
      out.set(seed);
      for (let i = seed.length; i < out.length; i++) out[i] = randomInt(r, 256);
      return out;
    }
    case 3: {
      const out = seed.slice();
      if (out.length > 0) out[0] = randomInt(r, 256);
      return out;
    }
    default: {
      const out = seed.slice();
      const flips = 1 + randomInt(r, 4);
      for (let i = 0; i < flips && out.length > 0; i++) {
        out[randomInt(r, out.length)]! ^= 1 << randomInt(r, 8);
      }
      return out;
    }
  }
}

function onlyExpected(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SyntaxError) && !(e instanceof RangeError)) throw e;
  }
}

function seeds(): Uint8Array[] {
  const k = TunnelKeyPair.generate();
  const s = TunnelKeyPair.generate();
  const init = createInitiation(cipher, k, s.publicKey, 1, Date.now());
  const withCookie = createInitiation(cipher, k, s.publicKey, 2, Date.now(), new Uint8Array(16));
  return [
    init.message,
    withCookie.message,
    m.encodeCookieChallenge({
      receiver: 1,
      nonce: new Uint8Array(24),
      cookieBox: new Uint8Array(32),
    }),
    m.encodeResponse({
      sender: 1,
      receiver: 2,
      ephemeral: new Uint8Array(32),
      emptyBox: new Uint8Array(16),
      mac1: new Uint8Array(16),
    }),
    m.encodeData({ receiver: 3, counter: 4, box: new Uint8Array(100) }),
    m.encodeData({ receiver: 3, counter: 4, box: new Uint8Array(16) }),
  ];
}

Deno.test("fuzz: every message decoder throws only SyntaxError/RangeError on 100,000 inputs each", () => {
  const r = xorshift32(0xc0ffee);
  const ss = seeds();
  const decoders = [m.decodeInit, m.decodeCookieChallenge, m.decodeResponse, m.decodeData];
  for (const decode of decoders) {
    for (let i = 0; i < N; i++) {
      const input = mutate(r, ss[randomInt(r, ss.length)]!);
      m.messageType(input);
      onlyExpected(() => decode(input));
    }
  }
});

Deno.test("fuzz: key and IPv4 text parsers throw only SyntaxError/RangeError on 100,000 inputs each", () => {
  const r = xorshift32(7);
  const alphabet = "AZaz09+/=.-_ \n/:0123456789";
  const goodKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  for (let i = 0; i < N; i++) {
    const base = randomInt(r, 2) ? goodKey : "10.9.0.2/24";
    const chars = [...base];
    const edits = 1 + randomInt(r, 3);
    for (let j = 0; j < edits; j++) {
      const pos = randomInt(r, chars.length + 1);
      const c = alphabet[randomInt(r, alphabet.length)]!;
      if (randomInt(r, 2)) chars.splice(pos, 1, c);
      else chars.splice(pos, 0, c);
    }
    const t = chars.join("");
    onlyExpected(() => decodeTunnelKey(t));
    onlyExpected(() => parseTunnelIPv4(t));
  }
});

Deno.test("fuzz: 100,000 random and mutated datagrams into the server and client receive paths", async () => {
  const clock = new TunnelManualClock();
  const serverKey = TunnelKeyPair.generate();
  const clientKey = TunnelKeyPair.generate();
  const raised: string[] = [];
  const log = (l: string) => {
    if (l.includes("raised")) raised.push(l);
  };
  const scap = new CaptureConn();
  const stun = memoryTunPair("s");
  const server = new TunnelServer({
    cookies: "always",
    privateKey: serverKey.privateKey,
    tunnelIp: "10.9.0.1",
    peers: [{ publicKey: clientKey.publicKey, tunnelIp: "10.9.0.2" }],
    tun: stun.device,
    bind: scap,
    clock,
    cipher,
    tickMs: 0,
    rateLimit: { perSecond: 1e6, burst: 1e6 },
    log,
  });
  const ccap = new CaptureConn();
  const ctun = memoryTunPair("c");
  const serverAddr = new HostPortAddr("udp", "192.0.2.1", 51820);
  const client = new TunnelClient({
    privateKey: clientKey.privateKey,
    serverPublicKey: serverKey.publicKey,
    server: serverAddr,
    tun: ctun.device,
    bind: ccap,
    clock,
    cipher,
    tickMs: 0,
    log,
  });
  await client.start();
  const A = new HostPortAddr("udp", "198.51.100.2", 40000);
  // Pump the real handshake between the two by hand.
  const pump = () => {
    for (let moved = true; moved;) {
      moved = false;
      for (const p of ccap.sent.splice(0)) {
        server.receive(p.data, A);
        moved = true;
      }
      for (const p of scap.sent.splice(0)) {
        client.receive(p.data, serverAddr);
        moved = true;
      }
    }
  };
  pump();
  assert(client.connected);
  client.fromTun(ipv4Packet("10.9.0.2", "10.9.0.1", text("hello")));
  const dataSeed = ccap.sent[0]!.data;
  pump();
  // Valid seeds for both directions: a live data packet, a cookie-carrying initiation.
  const first = createInitiation(cipher, clientKey, serverKey.publicKey, 5, clock.now());
  server.receive(first.message, A);
  const ch = m.decodeCookieChallenge(scap.sent.splice(0)[0]!.data);
  const cookie = openCookieChallenge(cipher, serverKey.publicKey, first.mac1, ch)!;
  const withCookie = createInitiation(
    cipher,
    clientKey,
    serverKey.publicKey,
    6,
    clock.now(),
    cookie,
  );
  const ss = [...seeds(), dataSeed, withCookie.message, first.message];
  const r = xorshift32(0xbeef);
  for (let i = 0; i < N; i++) {
    const input = mutate(r, ss[randomInt(r, ss.length)]!);
    server.receive(input, A);
    client.receive(input, serverAddr);
    if (i % 1000 === 0) {
      scap.sent.length = 0;
      ccap.sent.length = 0;
      clock.advance(1);
    }
  }
  assertEquals(raised, []);
  const s = server.stats();
  const dropped = Object.values(s.drops).reduce((a, b) => a + b, 0);
  assert(dropped > N / 2, `server dropped ${dropped}`);
  assertEquals(s.counters.dhUnverified, 0);
  await client.stop();
  await server.stop();
  stun.host.close();
  ctun.host.close();
});
