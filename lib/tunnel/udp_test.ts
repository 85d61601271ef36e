import { assert, assertEquals } from "../testing/assert.ts";
import { buildTunnelFloodInitiation } from "./flood.ts";
import { UdpPacketConn } from "../net/udp.ts";
import { TunnelClient } from "./client.ts";
import { generateTunnelPrivateKey, tunnelPublicKey } from "./keys.ts";
import { memoryTunPair } from "./memory.ts";
import { TunnelServer } from "./server.ts";
import { ipv4Packet, text, waitFor } from "./testutil_test.ts";

Deno.test("e2e:tunnel-udp: a server and a client over real UDP on loopback", async () => {
  const sk = generateTunnelPrivateKey();
  const ck = generateTunnelPrivateKey();
  const st = memoryTunPair("s");
  const ct = memoryTunPair("c");
  const sbind = UdpPacketConn.listen("127.0.0.1", 0);
  const server = new TunnelServer({
    privateKey: sk,
    tunnelIp: "10.9.0.1",
    peers: [{ publicKey: tunnelPublicKey(ck), tunnelIp: "10.9.0.2" }],
    tun: st.device,
    bind: sbind,
  });
  const client = new TunnelClient({
    privateKey: ck,
    serverPublicKey: tunnelPublicKey(sk),
    server: sbind.localAddr,
    tun: ct.device,
    bind: UdpPacketConn.listen("127.0.0.1", 0),
  });
  try {
    await server.start();
    await client.start();
    await waitFor(() => server.stats().peers[0]!.connected, "handshake over UDP");
    // Bursts of 50: a default socket buffer holds about 256 small datagrams.
    const got = new Set<string>();
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) {
        ct.host.write(ipv4Packet("10.9.0.2", "10.9.0.1", text(`p${round * 50 + i}`)));
      }
      await waitFor(() => {
        for (let p; (p = st.host.inbox.tryShift());) {
          got.add(new TextDecoder().decode(p.subarray(20)));
        }
        return got.size === (round + 1) * 50;
      }, `round ${round}`);
    }
    st.host.write(ipv4Packet("10.9.0.1", "10.9.0.2", text("back")));
    assertEquals(new TextDecoder().decode((await ct.host.read()).subarray(20)), "back");
    assertEquals(server.stats().drops.auth + server.stats().drops.replay, 0);
  } finally {
    await client.stop();
    await server.stop();
    st.host.close();
    ct.host.close();
  }
});

Deno.test("e2e:tunnel-udp: a burst of initiations is shed at the read screen; a client still gets in", async () => {
  const sk = generateTunnelPrivateKey();
  const ck = generateTunnelPrivateKey();
  const st = memoryTunPair("s");
  const ct = memoryTunPair("c");
  const sbind = UdpPacketConn.listen("127.0.0.1", 0, { batch: {}, socketBuffer: 8 << 20 });
  const server = new TunnelServer({
    privateKey: sk,
    tunnelIp: "10.9.0.1",
    peers: [{ publicKey: tunnelPublicKey(ck), tunnelIp: "10.9.0.2" }],
    tun: st.device,
    bind: sbind,
    cookieRepliesPerSecond: 50,
  });
  const attacker = UdpPacketConn.listen("127.0.0.1", 0, { batch: {}, socketBuffer: 8 << 20 });
  const client = new TunnelClient({
    privateKey: ck,
    serverPublicKey: tunnelPublicKey(sk),
    server: sbind.localAddr,
    tun: ct.device,
    bind: UdpPacketConn.listen("127.0.0.1", 0),
  });
  try {
    assert(sbind.batched, "batched I/O unavailable");
    await server.start();
    const n = 3000;
    // One source: the screen does not care, it sheds by queue room and cookie budget.
    for (let i = 0; i < n; i++) {
      attacker.writeTo(buildTunnelFloodInitiation(tunnelPublicKey(sk)), sbind.localAddr);
    }
    const junkData = new Uint8Array(64);
    junkData[0] = 5; // DATA: passes the screen, fails authentication
    await attacker.writeTo(junkData, sbind.localAddr);
    const shed = () => {
      const s = server.stats();
      return s.drops.handshakeQueue + s.drops.cookieBudget;
    };
    await waitFor(() => server.stats().drops.auth >= 1 && shed() > 0, "the burst to be read");
    await client.start();
    await waitFor(() => server.stats().peers[0]!.connected, "the client's handshake");
    const s = server.stats();
    assert(s.drops.handshakeQueue + s.drops.cookieBudget > n / 2, JSON.stringify(s.drops));
  } finally {
    await client.stop();
    await server.stop();
    attacker.close();
    st.host.close();
    ct.host.close();
  }
});
