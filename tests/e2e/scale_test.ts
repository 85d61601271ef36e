/**
 * scale: the multi-instance bridge layout (docs/SCALING.md) on the shared e2e network: our
 * server standalone → Debian's HAProxy → 3 tor instances sharing one identity.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { sha256Hex } from "../../lib/testing/util.ts";
import { BINARIES } from "../../tools/permissions.ts";
import { type BridgeSite, startBridgeSite } from "./bridge_site.ts";
import {
  CAN_RUN,
  denoExec,
  IP,
  ORIGIN_PORT,
  progress,
  readOr,
  type TorClient,
  type TorNetwork,
  torNetwork,
} from "./harness.ts";

const CLIENTS = 20;
const SMALL_FILE = 2 * 1000 * 1000;

/** A file of `size` random bytes served by the origin; returns its URL and sha256. */
async function originFile(net: TorNetwork, name: string, size: number) {
  const full = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) {
    crypto.getRandomValues(full.subarray(off, off + 65536));
  }
  await Deno.writeFile(`${net.dir}/www/${name}`, full);
  return { url: `http://${IP}:${ORIGIN_PORT}/${name}`, sha256: await sha256Hex(full) };
}

/** Starts `n` tor clients at once through the test PT straight to `site`'s server. */
function startClients(net: TorNetwork, site: BridgeSite, n: number): Promise<TorClient[]> {
  return Promise.all(Array.from({ length: n }, () =>
    net.startClient({
      bridge: site.bridgeLine(),
      transportPlugin: `snowflake ${
        denoExec("tests/e2e/test_pt_client.ts", BINARIES.client!.flags, [
          "--url",
          site.serverUrl + "?client_ip=10.77.0.2",
        ])
      }`,
      timeoutMs: 300_000,
    })));
}

Deno.test({
  name: "scale:haproxy: 20 tor clients through our server, HAProxy and 3 tors of one identity",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const site = await startBridgeSite(net, {
      name: "scale-a",
      instances: 3,
      wsPort: 8100,
      basePort: 10100,
    });
    const clients: TorClient[] = [];
    try {
      const file = await originFile(net, "scale-a.bin", SMALL_FILE);
      clients.push(...await startClients(net, site, CLIENTS));
      const got = await Promise.all(
        clients.map((c, k) => net.curl(c, file.url, `scale-a-${k}.bin`)),
      );
      for (const g of got) {
        assertEquals(g.bytes, SMALL_FILE);
        assertEquals(g.sha256, file.sha256);
      }
      const stats = await site.stats();
      progress(
        `HAProxy: ${[...stats].map(([k, s]) => `${k} ${s.status} ${s.stot} sessions`).join(", ")}`,
      );
      for (const [name, s] of stats) assert(s.stot > 0, `HAProxy sent no connection to ${name}`);
      assertEquals(stats.size, 3);
      // Each tor saw ExtORPort connections from the server's orport-srcaddr range (kept by
      // HAProxy's usesrc clientip and the static-cookie relay) carrying the proxy's client_ip.
      for (let i = 1; i <= 3; i++) {
        const log = readOr(`${site.instanceDir(i)}/extor.log`);
        const m = /We rewrite our address from '(127\.0\.2\.\d+):\d+' to '10\.77\.0\.2:1'/
          .exec(log);
        assert(m, `tor${i} got no USERADDR over a connection from 127.0.2.0/24`);
      }
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await site.stop();
    }
  },
});
