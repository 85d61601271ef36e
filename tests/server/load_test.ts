/**
 * load:server — many concurrent simulated clients (real WebSockets to the real server
 * process, each with its own ClientID, KCP session and smux stream), each echoing 100 KB
 * through a local TCP echo standing in for the ORPort. Prints the server's RSS and CPU.
 * LOAD_CLIENTS overrides the count (default 1000).
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { goodEnv, smethodPort, spawnServer } from "./spawn.ts";
import { connectClient, echoThrough, startEcho, type TestClient } from "./ws_client.ts";
import { randomBytes } from "../../lib/testing/util.ts";
import { mib, procUsage } from "./proc.ts";

const CLIENTS = Number(Deno.env.get("LOAD_CLIENTS") ?? 1000);
const BYTES = 100_000;
/** Clients connecting at once; beyond it the test process itself is the bottleneck. */
const CONNECT_BATCH = 100;

Deno.test({
  name: `load:server: ${CLIENTS} concurrent clients each echo 100 KB intact`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const echo = startEcho();
    const p = spawnServer(goodEnv(echo.port));
    const clients: TestClient[] = [];
    try {
      const port = smethodPort(await p.waitFor(/^SMETHODS DONE$/));
      const pid = p.child.pid;
      const before = procUsage(pid);
      const t0 = performance.now();
      for (let i = 0; i < CLIENTS; i += CONNECT_BATCH) {
        const n = Math.min(CONNECT_BATCH, CLIENTS - i);
        clients.push(
          ...await Promise.all(
            Array.from({ length: n }, () => connectClient(`ws://127.0.0.1:${port}/`)),
          ),
        );
      }
      const connected = performance.now();
      const payload = randomBytes(BYTES);
      let ok = 0;
      let peakRss = 0;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, procUsage(pid).rssBytes);
      }, 200);
      await Promise.all(clients.map(async (c, i) => {
        // Each client sends different bytes so crossed streams would be caught.
        const data = payload.slice();
        new DataView(data.buffer).setUint32(0, i);
        const back = await echoThrough(c, data);
        assertEquals(back.length, data.length);
        for (let j = 0; j < data.length; j++) {
          if (back[j] !== data[j]) throw new Error(`client ${i}: byte ${j} differs`);
        }
        ok++;
      }));
      clearInterval(sampler);
      const done = performance.now();
      const after = procUsage(pid);
      peakRss = Math.max(peakRss, after.rssBytes);
      assertEquals(ok, CLIENTS);
      assertEquals(echo.connections, CLIENTS);
      const total = 2 * CLIENTS * BYTES;
      console.log(
        `load:server ${CLIENTS} clients: connect ${((connected - t0) / 1000).toFixed(1)} s, ` +
          `echo ${((done - connected) / 1000).toFixed(1)} s ` +
          `(${(total / 1e6 / ((done - connected) / 1000)).toFixed(1)} MB/s both ways); ` +
          `server RSS ${mib(before.rssBytes)} → ${mib(after.rssBytes)} MiB (peak ${
            mib(peakRss)
          }), CPU ${(after.cpuSeconds - before.cpuSeconds).toFixed(1)} s`,
      );
    } finally {
      for (const c of clients) c.close();
      p.kill("SIGKILL");
      await p.status;
      echo.close();
    }
  },
});
