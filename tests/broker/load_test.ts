// load:broker — 2,000 long-polling proxies and 500 client polls a minute on loopback.
import { assertEquals } from "../../lib/testing/assert.ts";
import { quantile, rssBytes, runClients, startProxies, waitForWaiting } from "./load.ts";
import { spawnBroker } from "./spawn.ts";

const PROXIES = 2_000;
const CLIENTS = 500;
const CLIENT_INTERVAL_MS = 60_000 / CLIENTS;

Deno.test("load:broker: 2,000 long-polling proxies, 500 client polls a minute, every client matched", async () => {
  const broker = await spawnBroker(["--allowed-relay-pattern", "", "--disable-probe"]);
  // Independent proxies: their polls start spread over one poll timeout.
  const swarm = startProxies(broker.url, PROXIES, "unrestricted", 10_000);
  try {
    const waiting = await waitForWaiting(broker.url, PROXIES);
    console.log(
      `[load:broker] ${waiting} proxies waiting; broker RSS ${
        (rssBytes(broker.pid) / 1e6).toFixed(0)
      } MB`,
    );
    let peakRss = 0;
    const sampler = setInterval(() => peakRss = Math.max(peakRss, rssBytes(broker.pid)), 500);
    const run = await runClients(broker.url, CLIENTS, CLIENT_INTERVAL_MS);
    clearInterval(sampler);
    console.log(
      `[load:broker] ${run.matched}/${CLIENTS} clients matched; match latency p50 ` +
        `${quantile(run.latenciesMs, 0.5).toFixed(1)} ms, p99 ${
          quantile(run.latenciesMs, 0.99).toFixed(1)
        } ms; ` +
        `broker peak RSS ${(peakRss / 1e6).toFixed(0)} MB; proxy HTTP errors ${swarm.errors()}`,
    );
    assertEquals(Object.fromEntries(run.failed), {});
    assertEquals(run.matched, CLIENTS);
  } finally {
    await swarm.stop();
    await broker.stop();
  }
});
