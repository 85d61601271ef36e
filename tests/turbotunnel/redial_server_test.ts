/**
 * The Turbo Tunnel path production runs, proved at the server: a client's KCP session
 * moves 50 MB from the ORPort through {@link SnowflakeServer} over real WebSockets while
 * its carriers come and go, or while two carriers of one ClientID run at once. The client
 * is lib/turbotunnel's RedialPacketConn over lib/net's WebSocket Conn.
 */
import { dialKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { type Conn, dialWebSocket, MemoryListener, NamedAddr, sleep } from "../../lib/net/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { sha256Hex } from "../../lib/testing/util.ts";
import { ClientID, RedialPacketConn } from "../../lib/turbotunnel/mod.ts";
import { SnowflakeServer } from "../../server/server.ts";
import { receiveAll } from "./util.ts";
import { resumeAfterOutage } from "./resume.ts";

const TOTAL = 50 * 1024 * 1024;
const opts = { sanitizeOps: false, sanitizeResources: false };

/** An ORPort that sends `data` to every connection, then closes its side. */
function startSource(data: Uint8Array): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of listener) {
      (async () => {
        try {
          for (let off = 0; off < data.length;) off += await c.write(data.subarray(off));
          await c.closeWrite();
          await c.readable.pipeTo(new WritableStream());
        } catch { /* the client went away */ }
      })();
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/** A server whose ORPort sends `data`, with its log lines kept. */
async function startServer(data: Uint8Array, numTurbotunnel = 1) {
  const source = startSource(data);
  const lines: string[] = [];
  const server = new SnowflakeServer({
    target: {
      orAddr: { hostname: "127.0.0.1", port: source.port },
      extendedOrAddr: null,
      cookie: null,
    },
    log: new Logger({ unsafe: true, write: (l) => lines.push(l) }),
    numTurbotunnel,
  });
  const addr = await server.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    server,
    lines,
    url: `ws://127.0.0.1:${addr.port}/`,
    async close() {
      await server.close();
      source.close();
    },
  };
}

/** A client whose carriers are WebSockets to `url`; `live` lists them. */
function startClient(url: string, carriers: number) {
  const id = ClientID.random();
  const remote = new NamedAddr("websocket", url);
  const live: Conn[] = [];
  const pconn = new RedialPacketConn(id, remote, async (signal) => {
    const c = await dialWebSocket(url, { signal });
    live.push(c);
    return c;
  }, { carriers, retryDelayMs: 100 });
  const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
  const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  return {
    id,
    pconn,
    kcp,
    smux,
    live,
    close() {
      smux.close();
      kcp.close();
      pconn.close();
    },
  };
}

/** Bytes each of `id`'s carriers sent, from the server's per-connection log lines. */
function bytesOutPerCarrier(lines: string[], id: ClientID): number[] {
  return lines.filter((l) => l.includes(`client ${id.hex}`))
    .map((l) => Number(/, (\d+) B out/.exec(l)![1]));
}

for (const numTurbotunnel of [1, 2]) {
  const where = numTurbotunnel === 1 ? "" : ", KCP in Workers (num-turbotunnel=2)";
  Deno.test(
    `redial:server: 50 MB through SnowflakeServer over WebSockets while the carrier is replaced 3 times${where}`,
    opts,
    async () => {
      const data = seededBytes(TOTAL, 0x5eed);
      const want = await sha256Hex(data);
      const s = await startServer(data, numTurbotunnel);
      const client = startClient(s.url, 1);
      const started = performance.now();
      try {
        const stream = await client.smux.openStream();
        await stream.writable.getWriter().write(new Uint8Array([1])); // opens the ORPort side
        let replaced = 0;
        const got = await receiveAll(stream.readable, (n) => {
          // Close the current carrier at 1/4, 2/4 and 3/4, each once its predecessor is replaced.
          if (
            replaced < 3 && client.live.length === replaced + 1 &&
            n >= (TOTAL * (replaced + 1)) / 4
          ) {
            replaced++;
            client.live[replaced - 1]!.close();
          }
        });
        const secs = (performance.now() - started) / 1000;
        assertEquals(got.bytes, TOTAL);
        assertEquals(got.sha256, want);
        assertEquals(replaced, 3);
        assertEquals(client.pconn.dials, 4, "one dial per carrier");
        if (numTurbotunnel === 1) {
          assertEquals(s.server.metrics.counters.sessions, 1, "one KCP session on the server");
        }
        // Workers report their sessions once a second.
        for (let i = 0; i < 100 && s.server.numSessions !== 1; i++) await sleep(50);
        assertEquals(s.server.numSessions, 1, "one live KCP session on the server");
        console.log(
          `redial:server: ${TOTAL / 1048576} MiB over ${client.pconn.dials} carriers${where} in ` +
            `${secs.toFixed(1)} s = ${(TOTAL / 1048576 / secs).toFixed(1)} MiB/s`,
        );
        stream.close();
      } finally {
        client.close();
        await s.close();
      }
    },
  );
}

Deno.test(
  "redial:server: 50 MB through SnowflakeServer over two WebSocket carriers of one ClientID at once",
  opts,
  async () => {
    const data = seededBytes(TOTAL, 0x2ca7);
    const want = await sha256Hex(data);
    const s = await startServer(data);
    const client = startClient(s.url, 2);
    const started = performance.now();
    try {
      const stream = await client.smux.openStream();
      await stream.writable.getWriter().write(new Uint8Array([1]));
      const got = await receiveAll(stream.readable);
      const secs = (performance.now() - started) / 1000;
      assertEquals(got.bytes, TOTAL);
      assertEquals(got.sha256, want);
      assertEquals(s.server.metrics.counters.sessions, 1, "one KCP session on the server");
      assertEquals(client.live.length, 2, "two carriers, none replaced");
      client.close();
      await s.server.close(); // ends the carriers, which log what each sent
      const out = bytesOutPerCarrier(s.lines, client.id);
      assertEquals(out.length, 2);
      for (const n of out) assert(n > TOTAL / 20, `each carrier carried a share: ${out}`);
      console.log(
        `redial:server: ${TOTAL / 1048576} MiB over 2 carriers at once in ${secs.toFixed(1)} s; ` +
          `MiB per carrier ${out.map((n) => (n / 1048576).toFixed(1)).join(" + ")}`,
      );
    } finally {
      client.close();
      await s.close();
    }
  },
);

Deno.test(
  "scale:workers: carriers of one ClientID landing on different Workers form one KCP session, data intact",
  opts,
  async () => {
    const total = 32 * 1024 * 1024;
    const data = seededBytes(total, 0x3017);
    const want = await sha256Hex(data);
    const s = await startServer(data, 2);
    const client = startClient(s.url, 2);
    try {
      const stream = await client.smux.openStream();
      await stream.writable.getWriter().write(new Uint8Array([1]));
      // The kernel picks each carrier's Worker: replace carriers (two up at once) as data
      // flows, so that both Workers carry some of this client's packets.
      const closed = new Set<Conn>();
      let replaced = 0;
      const got = await receiveAll(stream.readable, (n) => {
        const open = client.live.filter((c) => !closed.has(c));
        if (replaced < 15 && open.length === 2 && n >= (total * (replaced + 1)) / 16) {
          replaced++;
          closed.add(open[0]!);
          open[0]!.close();
        }
      });
      assertEquals(got.bytes, total);
      assertEquals(got.sha256, want);
      await sleep(1500); // the Workers report their metrics once a second
      const metrics = s.server.renderMetrics();
      assertEquals(/^snowflake_server_sessions_total (\d+)$/m.exec(metrics)![1], "1");
      assertEquals(s.server.numSessions, 1, "one live KCP session over both Workers");
      client.close();
      await s.server.close(); // ends the carriers, which log what each sent
      const out = new Map<string, number>();
      for (const l of s.lines.filter((l) => l.includes(`client ${client.id.hex}`))) {
        const worker = /^(?:\S+ )*?worker (\d+): /.exec(l)![1]!;
        out.set(worker, (out.get(worker) ?? 0) + Number(/, (\d+) B out/.exec(l)![1]));
      }
      assertEquals([...out.keys()].sort(), ["0", "1"], `carriers on both Workers: ${[...out]}`);
      for (const [w, n] of out) assert(n > 0, `worker ${w}'s carriers sent data`);
      console.log(
        `scale:workers: ${total / 1048576} MiB over ${client.pconn.dials} carriers; MiB sent ` +
          `by each Worker's carriers: ${
            [...out].map(([w, n]) => `${w}: ${(n / 1048576).toFixed(1)}`).join(", ")
          }`,
      );
    } finally {
      client.close();
      await s.close();
    }
  },
);

/** Where `id` was served, from the log lines: each carrier's Worker, each session's instance. */
function placement(lines: string[], id: ClientID): { carriers: string[]; sessions: string[] } {
  return {
    carriers: lines.filter((l) => l.includes(`: client ${id.hex}`))
      .map((l) => /\bworker (\d+): /.exec(l)![1]!),
    sessions: lines.filter((l) => l.includes(`session ${id.hex} opened`))
      .map((l) => /\(instance (\d+)\)/.exec(l)![1]!),
  };
}

/** `n` clients with `carriers` carriers each, all downloading `s`'s data at once; data intact. */
async function downloadAll(
  s: Awaited<ReturnType<typeof startServer>>,
  n: number,
  carriers: number,
  want: string,
) {
  const clients = Array.from({ length: n }, () => startClient(s.url, carriers));
  try {
    await Promise.all(clients.map(async (c) => {
      const stream = await c.smux.openStream();
      await stream.writable.getWriter().write(new Uint8Array([1]));
      const got = await receiveAll(stream.readable);
      assertEquals(got.sha256, want, "data intact");
      assertEquals(c.pconn.dials, carriers, "no carrier replaced");
    }));
    await sleep(1500); // the Workers report their metrics once a second
    const metrics = s.server.renderMetrics();
    for (const c of clients) c.close();
    // Each carrier logs where it was as it ends.
    const logged = () =>
      clients.every((c) => placement(s.lines, c.id).carriers.length === carriers);
    for (let i = 0; i < 200 && !logged(); i++) await sleep(50);
    return { clients, metrics };
  } finally {
    for (const c of clients) c.close();
  }
}

Deno.test(
  "scale:workers: a one-carrier client is served by the Worker it landed on: no packet crosses Workers (num-turbotunnel=4)",
  opts,
  async () => {
    const data = seededBytes(2 * 1024 * 1024, 0x1a4d);
    const want = await sha256Hex(data);
    const s = await startServer(data, 4);
    try {
      const { clients, metrics } = await downloadAll(s, 8, 1, want);
      assertEquals(/^snowflake_server_sessions_total (\d+)$/m.exec(metrics)![1], "8");
      assertEquals(/^snowflake_server_forwarded_packets_total (\d+)$/m.exec(metrics)![1], "0");
      const landed = clients.map((c) => placement(s.lines, c.id));
      for (const p of landed) assertEquals(p.sessions, p.carriers, "owned where it landed");
      console.log(
        `scale:workers: 8 one-carrier clients landed on Workers ${
          landed.map((p) => p.carriers[0]).join(" ")
        }, each served there; 0 packets forwarded`,
      );
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "scale:workers: two carriers of one ClientID landing on different Workers at once agree on one owner, data intact",
  opts,
  async () => {
    const data = seededBytes(2 * 1024 * 1024, 0x2d1a);
    const want = await sha256Hex(data);
    const s = await startServer(data, 2);
    try {
      // 16 clients dial both carriers at once; the kernel splits some clients' pair over
      // the two Workers (all 16 pairs on one Worker each: 1 in 65,536).
      const { clients, metrics } = await downloadAll(s, 16, 2, want);
      assertEquals(/^snowflake_server_sessions_total (\d+)$/m.exec(metrics)![1], "16");
      let split = 0;
      for (const c of clients) {
        const p = placement(s.lines, c.id);
        assertEquals(p.carriers.length, 2);
        assertEquals(p.sessions.length, 1, "one owner, one KCP session");
        assert(p.carriers.includes(p.sessions[0]!), "owned where one of its carriers landed");
        if (p.carriers[0] !== p.carriers[1]) split++;
      }
      assert(split > 0, "some client's carriers landed on both Workers");
      const forwarded = /^snowflake_server_forwarded_packets_total (\d+)$/m.exec(metrics)![1];
      console.log(
        `scale:workers: ${split} of 16 clients had their two carriers on both Workers; ` +
          `one owner each, data intact; ${forwarded} packets forwarded`,
      );
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "redial:server: after 30 s without a carrier, data resumes at once on the new one",
  opts,
  async () => {
    const OUTAGE_MS = 30_000;
    const s = await startServer(seededBytes(64 * 1024 * 1024, 0x0a7e));
    try {
      const r = await resumeAfterOutage(s.url, {
        request: new Uint8Array([1]),
        outageMs: OUTAGE_MS,
        probe: () => s.server.renderMetrics().match(/outgoing_drops_total (\d+)/)![1]!,
      });
      assertEquals(
        r.probeLate,
        r.probeEarly,
        "while no carrier was up the server's KCP sender queued nothing (paused, no retransmissions)",
      );
      assertEquals(r.dials, 2);
      assertEquals(s.server.metrics.counters.sessions, 1, "the same KCP session resumed");
      console.log(
        `redial:server: first byte ${r.firstMs.toFixed(0)} ms and 4 MiB more ` +
          `${r.bulkMs.toFixed(0)} ms after the new carrier opened (outage ${OUTAGE_MS / 1000} s; ` +
          `target ≤ 1 s; the Go server resumes at once, ours took 11–17 s before the pause)`,
      );
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "redial:server: the same server code over the in-memory Listener twin, carrier replaced once",
  opts,
  async () => {
    const data = seededBytes(8 * 1024 * 1024, 0x7153);
    const want = await sha256Hex(data);
    const s = await startServer(data);
    const listener = new MemoryListener();
    const serving = s.server.serve(listener);
    const remote = new NamedAddr("memory", "server");
    const carriers: Conn[] = [];
    const pconn = new RedialPacketConn(ClientID.random(), remote, async () => {
      const c = await listener.dial();
      carriers.push(c);
      return c;
    }, { retryDelayMs: 100 });
    const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
    const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
    try {
      const stream = await smux.openStream();
      await stream.writable.getWriter().write(new Uint8Array([1]));
      let closed = false;
      const got = await receiveAll(stream.readable, (n) => {
        if (!closed && n >= data.length / 2) {
          closed = true;
          carriers[0]!.close();
        }
      });
      assertEquals([got.bytes, got.sha256], [data.length, want]);
      assertEquals(pconn.dials, 2);
      assertEquals(s.server.metrics.counters.sessions, 1);
      stream.close();
    } finally {
      smux.close();
      kcp.close();
      pconn.close();
      listener.close();
      await serving;
      await s.close();
    }
  },
);
