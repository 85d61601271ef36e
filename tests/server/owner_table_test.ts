/**
 * The table of owners the server's Workers share (server/route.ts): the Worker where a
 * ClientID's first carrier lands owns it; the others route there; the entry goes with the
 * owner's last state, not while a carrier is on its way; a full bucket falls back to the
 * hash rule without ever disagreeing; and Workers claiming the same ClientIDs at once agree.
 */
import { dialKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { memoryConnPair, NamedAddr, sleep } from "../../lib/net/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { ClientID, RedialPacketConn, serveCarrier } from "../../lib/turbotunnel/mod.ts";
import { ClientIPs } from "../../server/client_ips.ts";
import { Metrics } from "../../server/metrics.ts";
import { instanceIndex, OwnerTable, ownerTableMemory } from "../../server/route.ts";
import { TurbotunnelInstance } from "../../server/turbotunnel.ts";
import type { ToOwnerWorker } from "./owner_table_worker.ts";

const key = crypto.getRandomValues(new Uint8Array(32));

/** `n` Workers' views of one table of `buckets` buckets. */
function views(n: number, buckets: number) {
  const memory = ownerTableMemory(buckets);
  const tables = Array.from(
    { length: n },
    (_, index) => new OwnerTable(memory, { index, workers: n, key }),
  );
  return { memory, tables };
}

/** Whether the table holds nothing (every ClientID gone, no count left). */
function empty(memory: SharedArrayBuffer): boolean {
  return new Int32Array(memory).every((w) => w === 0);
}

Deno.test("scale:owners: the first Worker owns a ClientID; the others route there; gone frees it", () => {
  const { memory, tables: [a, b, c] } = views(3, 64);
  const id = ClientID.random();
  assertEquals(b!.route(id), 1, "claimed where it landed");
  assertEquals(b!.route(id), 1, "a second carrier on the owner stays there");
  assertEquals([a!.route(id), c!.route(id)], [1, 1], "carriers elsewhere go to the owner");
  b!.gone(id);
  assertEquals(a!.route(id), 1, "two carriers on their way pin the entry");
  for (let i = 0; i < 3; i++) b!.opened(id);
  b!.gone(id);
  assert(empty(memory), "gone once nothing is on its way");
  assertEquals(c!.route(id), 2, "a ClientID gone is claimed afresh");
  c!.gone(id);
  assert(empty(memory));
});

Deno.test("scale:owners: entries are reused; only the owner's gone frees its entry", () => {
  const { memory, tables } = views(2, 1);
  const ids = Array.from({ length: 8 }, () => ClientID.random());
  for (const [i, id] of ids.entries()) assertEquals(tables[i % 2]!.route(id), i % 2);
  tables[1]!.gone(ids[0]!); // not its owner: nothing happens
  assertEquals(tables[1]!.route(ids[0]!), 0);
  tables[0]!.opened(ids[0]!);
  for (const [i, id] of ids.entries()) tables[i % 2]!.gone(id);
  assert(empty(memory));
  // The freed slots serve new ClientIDs, many times over.
  for (let round = 0; round < 100; round++) {
    const fresh = Array.from({ length: 8 }, () => ClientID.random());
    for (const [i, id] of fresh.entries()) {
      assertEquals(tables[(i + round) % 2]!.route(id), (i + round) % 2);
    }
    for (const [i, id] of fresh.entries()) tables[(i + round) % 2]!.gone(id);
  }
  assert(empty(memory));
});

Deno.test("scale:owners: a full bucket falls back to the hash rule, and no later claim contradicts it", () => {
  const n = 3;
  const { memory, tables } = views(n, 1); // one bucket of 8: every ClientID shares it
  const owned = Array.from({ length: 8 }, () => ClientID.random());
  for (const [i, id] of owned.entries()) assertEquals(tables[i % n]!.route(id), i % n);
  // The bucket is full: a ninth ClientID goes to its hash owner from every Worker.
  const x = ClientID.random();
  const hx = instanceIndex(key, x, n);
  for (const t of tables) assertEquals(t.route(x), hx);
  // A slot frees, but x keeps its owner while it lives there; other new ClientIDs follow
  // the hash rule too until the bucket's overflow is back to zero.
  tables[0]!.gone(owned[0]!);
  const lander = (hx + 1) % n;
  assertEquals(tables[lander]!.route(x), hx);
  const y = ClientID.random();
  const hy = instanceIndex(key, y, n);
  assertEquals(tables[lander]!.route(y), hy);
  // x's carriers reach its hash owner (each routed from elsewhere once), then x is gone; y too.
  for (let i = 0; i < n; i++) if (i !== hx) tables[hx]!.opened(x);
  if (lander !== hx) tables[hx]!.opened(x);
  tables[hx]!.gone(x);
  if (lander !== hy) tables[hy]!.opened(y);
  tables[hy]!.gone(y);
  // Claims resume: the next new ClientID is owned where it landed.
  const z = ClientID.random();
  assertEquals(tables[lander]!.route(z), lander);
  tables[lander]!.gone(z);
  for (const [i, id] of owned.entries()) tables[i % n]!.gone(id);
  assert(empty(memory), "every count returned");
});

Deno.test("scale:owners: a hash owner's gone and a carrier on its way there in either order", () => {
  const { memory, tables: [a, b] } = views(2, 1);
  const owned = Array.from({ length: 8 }, () => ClientID.random());
  for (const id of owned) a!.route(id);
  const x = ClientID.random();
  const h = instanceIndex(key, x, 2);
  const [owner, other] = h === 0 ? [a!, b!] : [b!, a!];
  assertEquals(owner.route(x), h); // the hash owner holds x
  assertEquals(other.route(x), h); // a carrier on its way
  owner.gone(x); // x's state went before the carrier arrived
  owner.opened(x); // it brings x back
  assertEquals(other.route(x), h, "still the hash owner's");
  owner.opened(x);
  owner.gone(x);
  for (const id of owned) a!.gone(id);
  assert(empty(memory));
});

Deno.test(
  "scale:owners: an instance tells a client gone once neither its send queue nor its KCP session is left",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // The send queues' clock is Date.now, read when they are made: a fake one skips their 60 s.
    const realNow = Date.now;
    let now = realNow();
    Date.now = () => now;
    const gone: string[] = [];
    const lines: string[] = [];
    const instance = new TurbotunnelInstance({
      target: { orAddr: { hostname: "127.0.0.1", port: 9 }, extendedOrAddr: null, cookie: null },
      clientIps: new ClientIPs(),
      metrics: new Metrics(),
      log: { unsafe: false, log: (...parts: unknown[]) => lines.push(parts.join(" ")) },
      smux: { keepAliveIntervalMs: 200, keepAliveTimeoutMs: 1000 },
      onGone: (key) => gone.push(key),
    });
    Date.now = realNow;
    const remote = new NamedAddr("memory", "server");
    const pconn = new RedialPacketConn(ClientID.random(), remote, () => {
      const [c, s] = memoryConnPair();
      void serveCarrier(s, (id) => instance.endpoint(id));
      return Promise.resolve(c);
    });
    const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
    const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
    try {
      await (await smux.openStream()).writable.getWriter().write(new Uint8Array([1]));
      while (!lines.some((l) => l.includes("opened"))) await sleep(20);
      smux.close(); // the client vanishes: its carrier ends, its session waits for smux's timeout
      kcp.close();
      pconn.close();
      const expire = () => {
        now += 61_000;
        instance.pconn.queues.sweep();
      };
      while (instance.pconn.queues.has(pconn.id.hex)) {
        expire();
        await sleep(20);
      }
      assertEquals(gone, [], "the send queue expired, the KCP session lives");
      while (!lines.some((l) => l.includes("closed"))) await sleep(50);
      expire(); // the session's last keepalives may have queued packets again
      assertEquals(gone, [pconn.id.hex], "gone once, after both");
    } finally {
      instance.close();
    }
  },
);

/** `n` Workers over one table: each round, they route a list of ClientIDs at once. */
class OwnerWorkers {
  #workers: Worker[];
  #memory: SharedArrayBuffer;

  constructor(memory: SharedArrayBuffer, n: number) {
    this.#memory = memory;
    this.#workers = Array.from(
      { length: n },
      () => new Worker(new URL("./owner_table_worker.ts", import.meta.url), { type: "module" }),
    );
  }

  #next(): Promise<unknown[]> {
    return Promise.all(this.#workers.map((w) =>
      new Promise<unknown>((resolve, reject) => {
        w.onmessage = (ev) => resolve(ev.data);
        w.onerror = (ev) => reject(new Error(ev.message));
      })
    ));
  }

  /** Each Worker's owner of each of `ids`, routed by all at once (see `spread` there). */
  async route(ids: ClientID[], spread: boolean): Promise<number[][]> {
    const start = new SharedArrayBuffer(4);
    const ready = this.#next();
    this.#workers.forEach((w, index) =>
      w.postMessage(
        {
          t: "route",
          memory: this.#memory,
          start,
          index,
          workers: this.#workers.length,
          key,
          ids: ids.map((id) => id.hex),
          spread,
        } satisfies ToOwnerWorker,
      )
    );
    await ready;
    const routed = this.#next();
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    return (await routed) as number[][];
  }

  /** The owners take the carriers routed to them, then let their ClientIDs go. */
  async release(owners: number[]): Promise<void> {
    const released = this.#next();
    for (const w of this.#workers) w.postMessage({ t: "release", owners } satisfies ToOwnerWorker);
    await released;
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}

for (const [buckets, what] of [[1024, "room for all"], [16, "mostly full"]] as const) {
  Deno.test(
    `scale:owners: 4 Workers claiming the same 2,000 ClientIDs at once agree on every owner (${what}), 5 rounds`,
    async () => {
      const n = 4;
      const memory = ownerTableMemory(buckets);
      const workers = new OwnerWorkers(memory, n);
      try {
        for (let round = 0; round < 5; round++) {
          const ids = Array.from({ length: 2000 }, () => ClientID.random());
          // Even rounds race for each ClientID in the same order; odd ones meet mid-way.
          const owners = await workers.route(ids, round % 2 === 1);
          for (let w = 1; w < n; w++) assertEquals(owners[w], owners[0], `Worker ${w} agrees`);
          await workers.release(owners[0]!);
          assert(empty(memory), "every entry and count returned");
          const per = Array.from({ length: n }, (_, w) => owners[0]!.filter((o) => o === w).length);
          console.log(`round ${round}: ClientIDs owned by each Worker: ${per.join(", ")}`);
        }
      } finally {
        workers.close();
      }
    },
  );
}
