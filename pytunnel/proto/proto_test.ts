import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { memoryPacketPair } from "../../lib/net/memory.ts";
import { AsyncQueue } from "../../lib/net/queue.ts";
import { ClosedError } from "../../lib/net/errors.ts";
import { StaticKey } from "./crypto.ts";
import { initiate, readInitStatic, readInitTimestamp, readResponse, respond } from "./handshake.ts";
import { CookieJar, RateLimiter } from "./limits.ts";
import { ReplayWindow } from "./replay.ts";
import { Session } from "./session.ts";
import { type TunDevice, TunnelClient, TunnelServer } from "./tunnel.ts";
import { buildCookie, buildInit, messageType, MSG_COOKIE, MSG_DATA, MSG_INIT } from "./wire.ts";

Deno.test("codec: replay window accepts each counter once and rejects the too old", () => {
  const w = new ReplayWindow(8128);
  assert(w.accept(0n));
  assert(!w.accept(0n));
  assert(w.accept(5n));
  assert(w.accept(3n));
  assert(!w.accept(3n));
  assert(w.accept(10_000n));
  assert(!w.accept(10_000n - 8128n));
  assert(w.accept(10_000n - 8127n));
  assert(w.accept(10_001n) && w.accept(9_999n) && !w.accept(9_999n));
  // Random order inside the window: each accepted exactly once.
  const w2 = new ReplayWindow(64);
  const seen = new Set<bigint>();
  for (let i = 0; i < 20_000; i++) {
    const top = BigInt(Math.floor(i / 4));
    const c = top - BigInt(Math.floor(Math.random() * 60));
    if (c < 0n) continue;
    const fresh = !seen.has(c);
    assertEquals(w2.accept(c), fresh, `counter ${c}`);
    seen.add(c);
  }
});

Deno.test("codec: message types are recognised only at their exact sizes", () => {
  assertEquals(messageType(buildInit(7)), MSG_INIT);
  assertEquals(messageType(buildCookie(7, new Uint8Array(16))), MSG_COOKIE);
  const init = buildInit(7);
  init[1] = 1;
  assertEquals(messageType(init), 0);
  assertEquals(messageType(buildInit(7).subarray(0, 100)), 0);
  assertEquals(messageType(new Uint8Array(3)), 0);
});

Deno.test("codec: handshake derives matching keys; a wrong server key fails", () => {
  const server = StaticKey.random(), client = StaticKey.random();
  const ini = initiate(client, server.publicKey, 42, new Uint8Array(16));
  const s1 = readInitStatic(server, ini.message)!;
  assertEquals(s1.peerStatic, client.publicKey);
  const got = readInitTimestamp(server, ini.message, s1)!;
  const { message, keys } = respond(got, 99);
  const r = readResponse(client, ini, message)!;
  assertEquals(r.receiver, 99);
  assertEquals(r.keys.send, keys.recv);
  assertEquals(r.keys.recv, keys.send);
  const a = new Session(42, 99, r.keys, 64), b = new Session(99, 42, keys, 64);
  const msg = a.seal(new Uint8Array([1, 2, 3]));
  assertEquals(messageType(msg), MSG_DATA);
  assertEquals(b.open(msg), new Uint8Array([1, 2, 3]));
  assertEquals(b.open(msg), "replay");
  const bad = msg.slice();
  bad[bad.length - 1]! ^= 1;
  assertEquals(b.open(bad), "auth");
  assertEquals(readInitStatic(StaticKey.random(), ini.message), null);
});

Deno.test("codec: cookies bind the source; the rate limiter refills", () => {
  let now = 1_000_000;
  const jar = new CookieJar(() => now);
  const c = jar.make("10.0.0.1:5");
  assert(jar.check("10.0.0.1:5", c));
  assert(!jar.check("10.0.0.1:6", c));
  now += 40_000;
  assert(jar.check("10.0.0.1:5", c));
  now += 200_000;
  assert(!jar.check("10.0.0.1:5", c));
  const rl = new RateLimiter(1, 2, () => now);
  assert(rl.allow("a") && rl.allow("a") && !rl.allow("a") && rl.allow("b"));
  now += 1000;
  assert(rl.allow("a"));
});

class MemoryTun implements TunDevice {
  name = "mem";
  mtu = 1420;
  inbound = new AsyncQueue<Uint8Array>(256);
  written: Uint8Array[] = [];
  #closed = false;
  read(signal?: AbortSignal) {
    if (this.#closed) return Promise.reject(new ClosedError("tun"));
    return this.inbound.shift(signal);
  }
  write(p: Uint8Array) {
    this.written.push(p);
    return Promise.resolve();
  }
  close() {
    this.#closed = true;
    this.inbound.close();
  }
}

function ipv4(src: number, dst: number): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  const v = new DataView(p.buffer);
  v.setUint32(12, src);
  v.setUint32(16, dst);
  return p;
}

Deno.test({
  name: "fuzz: 20,000 random and mutated packets never break the server; a client still works",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [sconn, cconn] = memoryPacketPair();
    const sPriv = crypto.getRandomValues(new Uint8Array(32));
    const cPriv = crypto.getRandomValues(new Uint8Array(32));
    const stun = new MemoryTun(), ctun = new MemoryTun();
    const server = new TunnelServer({
      privateKey: sPriv,
      tunnelIp: 0x0a090001,
      peers: [{ name: "c", publicKey: new StaticKey(cPriv).publicKey, tunnelIp: 0x0a090002 }],
      tun: stun,
      bind: sconn,
      rateLimit: { perSecond: 1e6, burst: 1e6 },
    });
    server.start();
    const samples = [buildInit(1), new Uint8Array(60), new Uint8Array(128), new Uint8Array(40)];
    samples[1]![0] = 4;
    samples[2]![0] = 3;
    samples[3]![0] = 5;
    for (let i = 0; i < 20_000; i++) {
      let p: Uint8Array;
      if (i % 2) p = crypto.getRandomValues(new Uint8Array(1 + (i % 200)));
      else {
        p = samples[i % samples.length]!.slice();
        p[(i * 7) % p.length]! ^= 1 << (i % 8);
      }
      await cconn.writeTo(p, sconn.localAddr);
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    const client = new TunnelClient({
      privateKey: cPriv,
      serverPublicKey: new StaticKey(sPriv).publicKey,
      server: sconn.localAddr,
      tun: ctun,
      bind: cconn,
      keepaliveSeconds: 0,
    });
    client.start();
    const deadline = Date.now() + 10_000;
    while (client.stats().counters.handshakes === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    ctun.inbound.push(ipv4(0x0a090002, 0x0a090001));
    while (stun.written.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(stun.written.length, 1);
    assertEquals(server.stats().counters.dhUnverified, 0);
    await client.stop();
    await server.stop();
  },
});
