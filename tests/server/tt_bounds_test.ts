/**
 * Turbo Tunnel limits of the server under attack: an oversized length prefix, and
 * thousands of ClientIDs that open a session and vanish.
 */
import { dialKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { memoryConnPair, NamedAddr, sleep } from "../../lib/net/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import {
  ClientID,
  encodeCarrierHeader,
  RedialPacketConn,
  SendQueue,
} from "../../lib/turbotunnel/mod.ts";
import { DEFAULT_CARRIER_LIMITS } from "../../server/carriers.ts";
import { type LocalTunnel, PeerLink } from "../../server/peer_link.ts";
import { ownerTableMemory } from "../../server/route.ts";
import { SnowflakeServer } from "../../server/server.ts";
import { WorkerTunnel } from "../../server/worker_tunnel.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const quiet = new Logger({ write: () => {} });

/** A metric's value from the Prometheus text. */
function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)![1]);
}

Deno.test(
  "bounds: a length prefix over the packet limit closes the connection on the prefix alone",
  opts,
  async () => {
    const server = new SnowflakeServer({
      target: { orAddr: { hostname: "127.0.0.1", port: 9 }, extendedOrAddr: null, cookie: null },
      log: quiet,
    });
    const addr = await server.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${addr.port}/`);
      await new Promise((r) => (ws.onopen = r));
      const closed = new Promise((r) => (ws.onclose = () => r("closed")));
      // Declares a 65,536-byte packet (limit 65,535) and sends nothing more.
      ws.send(new Uint8Array([...encodeCarrierHeader(ClientID.random()), 0xc4, 0x80, 0x00]));
      let timer!: ReturnType<typeof setTimeout>;
      const outcome = await Promise.race([
        closed,
        new Promise((r) => (timer = setTimeout(() => r("still open after 10 s"), 10_000))),
      ]);
      clearTimeout(timer);
      assertEquals(outcome, "closed");
      assertEquals(server.metrics.counters.oversizePackets, 1);
      ws.close();
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "bounds: 2,000 ClientIDs that open a session and vanish: paused senders, bounded queues",
  opts,
  async () => {
    const N = 2000;
    // The ORPort sends 64 KiB on every stream: data the vanished clients never acknowledge.
    const orport = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const orConns: Deno.Conn[] = [];
    (async () => {
      for await (const c of orport) {
        orConns.push(c);
        c.write(new Uint8Array(64 * 1024)).catch(() => {});
      }
    })().catch(() => {});
    const server = new SnowflakeServer({
      target: {
        orAddr: { hostname: "127.0.0.1", port: (orport.addr as Deno.NetAddr).port },
        extendedOrAddr: null,
        cookie: null,
      },
      log: quiet,
    });
    const clients: { close(): void }[] = [];
    try {
      const rss0 = Deno.memoryUsage().rss;
      for (let i = 0; i < N; i++) {
        const remote = new NamedAddr("memory", "server");
        // The carriers are the in-memory Conn twin, served by the same ingress as WebSockets.
        const pconn = new RedialPacketConn(ClientID.random(), remote, () => {
          const [c, s] = memoryConnPair();
          void server.serveConn(s);
          return Promise.resolve(c);
        });
        const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
        const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
        await (await smux.openStream()).writable.getWriter().write(new Uint8Array([1]));
        clients.push({
          close() {
            smux.close();
            kcp.close();
            pconn.close();
          },
        });
      }
      while (orConns.length < N) await sleep(50);
      // Every client vanishes at once, as if its proxy and its process died.
      for (const c of clients) c.close();
      while (server.metrics.gauges.connectionsActive > 0) {
        await sleep(50);
      }
      await sleep(1000);
      const before = server.renderMetrics();
      await sleep(3000);
      const after = server.renderMetrics();
      const rss1 = Deno.memoryUsage().rss;
      const queued = metric(after, "snowflake_server_send_queue_bytes");
      assertEquals(metric(after, "snowflake_server_connections"), 0);
      assertEquals(
        metric(after, "snowflake_server_sessions"),
        N,
        "sessions wait for smux's keepalive",
      );
      assertEquals(
        [metric(after, "snowflake_server_outgoing_drops_total"), queued],
        [
          metric(before, "snowflake_server_outgoing_drops_total"),
          metric(before, "snowflake_server_send_queue_bytes"),
        ],
        "no session retransmits into a queue without a carrier",
      );
      assert(queued <= N * 16 * 1024, `queued ${queued} B`);
      console.log(
        `bounds: ${N} vanished clients: ${queued} B queued for them in all, ` +
          `RSS of this process (clients included) ${((rss1 - rss0) / 1048576).toFixed(0)} MiB more`,
      );
    } finally {
      for (const c of clients) c.close();
      await server.close();
      for (const c of orConns) c.close();
      orport.close();
    }
  },
);

Deno.test(
  "bounds: packets in flight between two Workers are capped; what is refused is dropped",
  opts,
  async () => {
    const { port1, port2 } = new MessageChannel();
    const got: number[] = [];
    const owner: LocalTunnel = {
      endpoint: () => ({
        deliver: (d) => (got.push(d.length), true),
        queue: new SendQueue(Date.now()),
        release: () => {},
      }),
    };
    const none: LocalTunnel = {
      endpoint: () => {
        throw new Error("this side owns no client");
      },
    };
    const here = new PeerLink(port1, none, { batchBytes: 65536, maxInFlight: 64 * 1024 });
    const there = new PeerLink(port2, owner, { batchBytes: 65536 });
    try {
      const endpoint = here.endpoint(ClientID.random(), null);
      // One task's worth of packets from a carrier: 1 MiB, 16 times the cap.
      let refused = 0;
      for (let i = 0; i < 750; i++) if (!endpoint.deliver(new Uint8Array(1400))) refused++;
      assert(refused >= 700, `refused ${refused} of 750`);
      // Once the owner acknowledges the batch, packets are taken again.
      let accepted = false;
      for (let i = 0; i < 100 && !accepted; i++) {
        await sleep(20);
        accepted = endpoint.deliver(new Uint8Array(1400));
      }
      assert(accepted, "the cap is released by the owner's acknowledgements");
      assertEquals(got.length, 750 - refused);
      endpoint.release();
    } finally {
      here.close();
      there.close();
    }
  },
);

Deno.test(
  "bounds: a remote carrier that does not send holds at most its window; the rest waits at the owner",
  opts,
  async () => {
    const { port1, port2 } = new MessageChannel();
    const owned = new SendQueue(Date.now());
    const owner: LocalTunnel = {
      endpoint: () => {
        owned.attach(Date.now());
        return { deliver: () => true, queue: owned, release: () => owned.detach(Date.now()) };
      },
    };
    const none: LocalTunnel = {
      endpoint: () => {
        throw new Error("this side owns no client");
      },
    };
    const window = 64 * 1024;
    const here = new PeerLink(port1, none, { batchBytes: 16 * 1024 });
    const there = new PeerLink(port2, owner, { batchBytes: 16 * 1024, window });
    try {
      const endpoint = here.endpoint(ClientID.random(), null);
      await sleep(20); // the owner learns of the carrier
      for (let i = 0; i < 400; i++) owned.push(new Uint8Array(1000), 1, Date.now());
      await sleep(50);
      const held = endpoint.queue.bytes;
      assert(held >= window && held < window + 16 * 1024 + 1000, `held ${held}`);
      assertEquals(owned.bytes, 400 * 1000 - held, "the rest waits in the owner's queue");
      // As the carrier sends, its window opens again.
      for (let b = endpoint.queue.take(1 << 20); b; b = endpoint.queue.take(1 << 20)) { /* sent */ }
      await sleep(50);
      assert(endpoint.queue.bytes >= window, `refilled ${endpoint.queue.bytes}`);
      endpoint.release();
    } finally {
      here.close();
      there.close();
    }
  },
);

Deno.test("bounds: a KCP Worker that dies is reported, not swallowed", opts, async () => {
  let died!: (m: string) => void;
  const death = new Promise<string>((r) => (died = r));
  // Options the worker's KCP refuses: it throws while starting.
  const w = new WorkerTunnel({
    target: { orAddr: { hostname: "127.0.0.1", port: 9 }, extendedOrAddr: null, cookie: null },
    srcaddr: null,
    index: 3,
    peers: [null],
    hmacKey: new Uint8Array(32),
    owners: ownerTableMemory(1),
    limits: DEFAULT_CARRIER_LIMITS,
    log: quiet,
    kcp: { mtu: -1 },
    onDeath: died,
  });
  try {
    const m = await death;
    assert(m.startsWith("KCP worker 3 died: "), m);
    assert(m.includes("tor restarts the transport"), m);
  } finally {
    w.close();
  }
});
