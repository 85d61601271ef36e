import { assert, assertEquals } from "../testing/assert.ts";
import { HostPortAddr } from "../net/addr.ts";
import { TunnelClient } from "./client.ts";
import { generateTunnelPrivateKey, tunnelPublicKey } from "./keys.ts";
import { memoryTunPair, type TunnelMemoryEndpoint, TunnelMemoryNetwork } from "./memory.ts";
import { TunnelServer } from "./server.ts";
import { ipv4Packet, text, waitFor } from "./testutil_test.ts";
import type { TunnelEvent } from "./types.ts";

const SERVER = new HostPortAddr("udp", "192.0.2.1", 51820);

async function topology() {
  const net = new TunnelMemoryNetwork();
  const sk = generateTunnelPrivateKey();
  const ak = generateTunnelPrivateKey();
  const bk = generateTunnelPrivateKey();
  const events: TunnelEvent[] = [];
  const st = memoryTunPair("srv");
  const server = new TunnelServer({
    privateKey: sk,
    tunnelIp: "10.9.0.1",
    peers: [
      { name: "a", publicKey: tunnelPublicKey(ak), tunnelIp: "10.9.0.2" },
      { name: "b", publicKey: tunnelPublicKey(bk), tunnelIp: "10.9.0.3" },
    ],
    tun: st.device,
    bind: net.bindHostPort(SERVER.hostname, SERVER.port),
    tickMs: 20,
    onEvent: (e) => events.push(e),
  });
  await server.start();
  const mk = async (key: Uint8Array, host: string) => {
    const t = memoryTunPair(host);
    const bind = net.bindHostPort(host, 40000);
    const c = new TunnelClient({
      privateKey: key,
      serverPublicKey: server.publicKey,
      server: SERVER,
      tun: t.device,
      bind,
      tickMs: 20,
    });
    await c.start();
    return { c, host: t.host, bind };
  };
  const a = await mk(ak, "198.51.100.2");
  const b = await mk(bk, "198.51.100.3");
  await waitFor(() => a.c.connected && b.c.connected, "both handshakes");
  // The server installs a session on the client's confirming keepalive.
  await waitFor(() => server.stats().peers.every((p) => p.connected), "server sessions");
  return {
    net,
    server,
    st,
    a,
    b,
    events,
    async stop() {
      await Promise.all([a.c.stop(), b.c.stop(), server.stop()]);
      st.host.close();
      a.host.close();
      b.host.close();
    },
  };
}

function decode(p: Uint8Array): string {
  return new TextDecoder().decode(p.subarray(20));
}

Deno.test("e2e:tunnel: server and two clients carry IP packets both ways and client to client", async () => {
  const t = await topology();
  try {
    const s = t.server.stats();
    assertEquals(s.counters.handshakes, 2);
    assertEquals(s.counters.dhUnverified, 0);
    assertEquals(s.counters.cookieReplies, 2, "every first initiation got a cookie challenge");
    t.a.host.write(ipv4Packet("10.9.0.2", "10.9.0.1", text("a to server")));
    assertEquals(decode(await t.st.host.read()), "a to server");
    t.st.host.write(ipv4Packet("10.9.0.1", "10.9.0.2", text("server to a")));
    assertEquals(decode(await t.a.host.read()), "server to a");
    t.a.host.write(ipv4Packet("10.9.0.2", "10.9.0.3", text("a to b")));
    assertEquals(decode(await t.b.host.read()), "a to b");
    t.b.host.write(ipv4Packet("10.9.0.3", "10.9.0.2", text("b to a")));
    assertEquals(decode(await t.a.host.read()), "b to a");
    for (let i = 0; i < 200; i++) t.a.host.write(ipv4Packet("10.9.0.2", "10.9.0.3", text(`n${i}`)));
    for (let i = 0; i < 200; i++) assertEquals(decode(await t.b.host.read()), `n${i}`);
    const after = t.server.stats();
    const pa = after.peers.find((p) => p.name === "a")!;
    assertEquals(pa.endpoint, "198.51.100.2:40000");
    assert(pa.bytesIn > 200 * 40);
    assertEquals(after.drops.acl + after.drops.auth + after.drops.replay, 0);
    assertEquals(t.events.filter((e) => e.type === "handshake").length, 2);
  } finally {
    await t.stop();
  }
});

Deno.test("e2e:tunnel: a spoofed inner source is dropped as acl, then traffic goes on", async () => {
  const t = await topology();
  try {
    t.a.host.write(ipv4Packet("10.9.0.3", "10.9.0.1", text("spoof")));
    t.a.host.write(ipv4Packet("10.9.0.9", "10.9.0.1", text("spoof2")));
    t.a.host.write(ipv4Packet("10.9.0.2", "10.9.0.1", text("honest")));
    assertEquals(decode(await t.st.host.read()), "honest");
    assertEquals(t.server.stats().drops.acl, 2);
  } finally {
    await t.stop();
  }
});

Deno.test("e2e:tunnel: roaming to a new source port moves the server's endpoint", async () => {
  const t = await topology();
  try {
    (t.a.bind as TunnelMemoryEndpoint).rebind(
      new HostPortAddr("udp", (t.a.bind.localAddr as HostPortAddr).hostname, 40001),
    );
    t.a.host.write(ipv4Packet("10.9.0.2", "10.9.0.1", text("from new port")));
    assertEquals(decode(await t.st.host.read()), "from new port");
    const pa = t.server.stats().peers.find((p) => p.name === "a")!;
    assertEquals(pa.endpoint, "198.51.100.2:40001");
    t.st.host.write(ipv4Packet("10.9.0.1", "10.9.0.2", text("reply")));
    assertEquals(decode(await t.a.host.read()), "reply");
    assertEquals(t.server.stats().counters.roams, 1);
    assert(t.events.some((e) => e.type === "roam"));
  } finally {
    await t.stop();
  }
});
