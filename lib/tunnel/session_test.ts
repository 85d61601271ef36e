import { assert, assertEquals } from "../testing/assert.ts";
import { HostPortAddr } from "../net/addr.ts";
import { loadTunnelCipher } from "./cipher.ts";
import { TunnelClient } from "./client.ts";
import { TunnelManualClock } from "./clock.ts";
import { TunnelKeyPair } from "./keys.ts";
import { memoryTunPair, TunnelMemoryNetwork } from "./memory.ts";
import * as msg from "./messages.ts";
import { TunnelServer } from "./server.ts";
import { ipv4Packet, text, waitFor } from "./testutil_test.ts";
import type { TunnelEvent, TunnelLimits } from "./types.ts";

const cipher = await loadTunnelCipher();
const SERVER = new HostPortAddr("udp", "192.0.2.1", 51820);

async function pair(limits: Partial<TunnelLimits> = {}) {
  const clock = new TunnelManualClock();
  const net = new TunnelMemoryNetwork();
  const sk = TunnelKeyPair.generate();
  const ck = TunnelKeyPair.generate();
  const events: TunnelEvent[] = [];
  const st = memoryTunPair("s");
  const ct = memoryTunPair("c");
  const server = new TunnelServer({
    privateKey: sk.privateKey,
    tunnelIp: "10.9.0.1",
    peers: [{ name: "c", publicKey: ck.publicKey, tunnelIp: "10.9.0.2" }],
    tun: st.device,
    bind: net.bindHostPort(SERVER.hostname, SERVER.port),
    clock,
    cipher,
    tickMs: 0,
    limits,
    onEvent: (e) => events.push(e),
  });
  const client = new TunnelClient({
    privateKey: ck.privateKey,
    serverPublicKey: sk.publicKey,
    server: SERVER,
    tun: ct.device,
    bind: net.bindHostPort("198.51.100.2", 40000),
    clock,
    cipher,
    tickMs: 0,
    limits,
  });
  await server.start();
  await client.start();
  await waitFor(() => server.stats().peers[0]!.connected, "first session");
  const roundTrip = async (label: string) => {
    ct.host.write(ipv4Packet("10.9.0.2", "10.9.0.1", text(label)));
    assertEquals(new TextDecoder().decode((await st.host.read()).subarray(20)), label);
    st.host.write(ipv4Packet("10.9.0.1", "10.9.0.2", text(label)));
    assertEquals(new TextDecoder().decode((await ct.host.read()).subarray(20)), label);
  };
  return {
    clock,
    net,
    server,
    client,
    events,
    roundTrip,
    async stop() {
      await client.stop();
      await server.stop();
      st.host.close();
      ct.host.close();
    },
  };
}

Deno.test("session: the client rekeys after 120 s and traffic continues on the new keys", async () => {
  const t = await pair();
  try {
    await t.roundTrip("before");
    t.clock.advance(119_000);
    t.client.tick();
    assertEquals(t.client.stats().counters.handshakes, 1);
    t.clock.advance(1_000);
    t.client.tick();
    await waitFor(() => t.client.stats().counters.handshakes === 2, "rekey");
    await waitFor(() => t.server.stats().counters.handshakes === 2, "server rekey");
    await t.roundTrip("after");
    assertEquals(t.server.stats().drops.auth, 0);
  } finally {
    await t.stop();
  }
});

Deno.test("session: the client rekeys after the message limit", async () => {
  const t = await pair({ rekeyAfterMessages: 5 });
  try {
    for (let i = 0; i < 6; i++) await t.roundTrip(`m${i}`);
    await waitFor(() => t.client.stats().counters.handshakes >= 2, "rekey on messages");
    await t.roundTrip("after");
  } finally {
    await t.stop();
  }
});

Deno.test("session: the server refuses a session older than 180 s and expires it", async () => {
  const t = await pair();
  try {
    let captured: Uint8Array | null = null;
    t.net.tap = (d, _from, to) => {
      if (to.toString() === SERVER.toString() && msg.messageType(d) === msg.MSG_DATA) {
        captured ??= d.slice();
      }
      return true;
    };
    await t.roundTrip("x");
    assert(captured);
    t.net.tap = null;
    t.clock.advance(180_000);
    const before = t.server.stats().drops.auth;
    t.server.receive(captured, new HostPortAddr("udp", "198.51.100.2", 40000));
    assertEquals(t.server.stats().drops.auth, before + 1);
    t.server.tick();
    assertEquals(t.server.stats().peers[0]!.connected, false);
    assert(t.events.some((e) => e.type === "expired"));
  } finally {
    await t.stop();
  }
});

Deno.test("session: persistent keepalive from the client, passive keepalive from the server", async () => {
  const t = await pair();
  try {
    const c0 = t.client.stats().counters.keepalivesOut;
    t.clock.advance(10_000);
    t.client.tick();
    await waitFor(() => t.server.stats().counters.keepalivesIn >= 1, "client keepalive");
    assertEquals(t.client.stats().counters.keepalivesOut, c0 + 1);
    // One-way data: the server owes a keepalive 10 s later.
    const before = t.server.stats().counters.keepalivesOut;
    t.client.fromTun(ipv4Packet("10.9.0.2", "10.9.0.9", text("one way")));
    await waitFor(() => t.server.stats().counters.packetsIn >= 3, "data in");
    t.server.tick();
    assertEquals(t.server.stats().counters.keepalivesOut, before);
    t.clock.advance(10_000);
    t.server.tick();
    assertEquals(t.server.stats().counters.keepalivesOut, before + 1);
    await waitFor(() => t.client.stats().counters.keepalivesIn >= 1, "server keepalive");
  } finally {
    await t.stop();
  }
});

Deno.test("session: data with no answer for 15 s makes the client start a new handshake", async () => {
  const t = await pair();
  try {
    let inits = 0;
    t.net.tap = (d) => { // the network goes down; count the client's initiations
      const type = msg.messageType(d);
      if (type === msg.MSG_INIT || type === msg.MSG_INIT_WITH_COOKIE) inits++;
      return false;
    };
    t.client.fromTun(ipv4Packet("10.9.0.2", "10.9.0.1", text("anyone?")));
    t.clock.advance(14_000);
    t.client.tick();
    assertEquals(inits, 0);
    t.clock.advance(1_000);
    t.client.tick();
    assertEquals(inits, 1);
    t.net.tap = null;
    t.clock.advance(5_000);
    t.client.tick(); // the retry gets through
    await waitFor(() => t.client.stats().counters.handshakes === 2, "new session");
    await t.roundTrip("back");
  } finally {
    await t.stop();
  }
});
