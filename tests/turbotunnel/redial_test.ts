/**
 * A Turbo Tunnel client session survives its proxy being replaced mid-transfer: the same
 * KCP conversation and smux stream carry on over a new proxy connection.
 */
import { dialKcp, type KcpOptions, listenKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { type MemoryConn, memoryConnPair, NamedAddr } from "../../lib/net/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT, SNOWFLAKE_SMUX_SERVER } from "../../lib/smux/mod.ts";
import { assertEquals } from "../../lib/testing/assert.ts";
import {
  ClientID,
  QueuePacketConn,
  RedialPacketConn,
  serveCarrier,
} from "../../lib/turbotunnel/mod.ts";
import { receiveAll, sendRandom } from "./util.ts";

const TOTAL = 20 * 1024 * 1024;
const REPLACEMENTS = 3;

// The real client's and server's settings (docs/PROTOCOL.md §3).
const KCP: KcpOptions = SNOWFLAKE_KCP;

Deno.test({
  name: "redial: a 20 MB transfer survives three proxy replacements on one KCP session",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const serverAddr = new NamedAddr("turbotunnel", "server");
    // The server, as in server/: every carrier is served by the one carrier pump into one
    // QueuePacketConn that a KCP listener runs over.
    const queues = new QueuePacketConn(serverAddr);
    const listener = listenKcp(queues, KCP);
    const pumps: Promise<unknown>[] = [];
    const proxies: MemoryConn[] = [];
    const clientIds: string[] = [];
    const route = (cid: ClientID) => {
      clientIds.push(cid.hex);
      return queues.endpoint(cid);
    };

    // The client: one ClientID; each dial is a fresh "proxy" (memory conn pair).
    const id = ClientID.random();
    const redial = new RedialPacketConn(id, serverAddr, (_signal) => {
      const [clientEnd, serverEnd] = memoryConnPair();
      proxies.push(clientEnd);
      pumps.push(serveCarrier(serverEnd, route));
      return Promise.resolve(clientEnd);
    }, { retryDelayMs: 50 });
    const kcpClient = dialKcp(redial, serverAddr, KCP);
    const client = new SmuxSession(kcpClient, { client: true, config: SNOWFLAKE_SMUX_CLIENT });

    const started = performance.now();
    try {
      const stream = await client.openStream();
      const w = stream.writable.getWriter();
      const server = (async () => {
        const kcpServer = await listener.accept();
        const smux = new SmuxSession(kcpServer, { client: false, config: SNOWFLAKE_SMUX_SERVER });
        const s = await smux.acceptStream();
        let replaced = 0;
        const got = await receiveAll(s.readable, (n) => {
          // Kill the current proxy at 1/4, 2/4 and 3/4 of the transfer (each one once the
          // client has dialed its replacement, so no proxy is killed twice).
          const current = proxies.length === replaced + 1;
          if (
            replaced < REPLACEMENTS && current &&
            n >= (TOTAL * (replaced + 1)) / (REPLACEMENTS + 1)
          ) {
            replaced++;
            proxies[proxies.length - 1]!.close();
          }
        });
        await s.writable.getWriter().close();
        return { ...got, kcpServer, streamId: s.id, smux };
      })();
      const sent = await sendRandom(w, TOTAL);
      await w.close();
      const got = await server;
      // Wait for the server's FIN so the stream ends cleanly on both sides.
      await receiveAll(stream.readable);

      assertEquals(got.bytes, TOTAL);
      assertEquals(got.sha256, sent);
      assertEquals(redial.dials, REPLACEMENTS + 1, "one dial per proxy");
      assertEquals(clientIds, Array(REPLACEMENTS + 1).fill(id.hex), "same ClientID every time");
      assertEquals(got.kcpServer.conv, kcpClient.conv, "same KCP conversation");
      assertEquals(got.streamId, stream.id, "same smux stream");
      assertEquals(got.smux.numStreams <= 1, true);
      assertEquals(listener.stats.sessionsCreated, 1, "only one KCP session on the server");
      assertEquals(listener.numSessions, 1);
      const secs = (performance.now() - started) / 1000;
      console.log(
        `redial: ${TOTAL / 1048576} MiB over ${redial.dials} proxies in ${secs.toFixed(1)} s; ` +
          `redial queue drops ${redial.drops}+${redial.sendDrops}, server queue drops ` +
          `${queues.incomingDrops}+${queues.outgoingDrops}`,
      );
      got.smux.close();
    } finally {
      client.close();
      redial.close();
      listener.close();
      queues.close();
      await Promise.allSettled(pumps);
    }
  },
});
