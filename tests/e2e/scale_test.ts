/**
 * scale: the multi-instance bridge layout (docs/SCALING.md) on the shared e2e network: our
 * server standalone → Debian's HAProxy → 3 tor instances sharing one identity.
 */
import { assert, assertEquals, assertNotEquals } from "../../lib/testing/assert.ts";
import { createCookieFile } from "../../server/static_cookie.ts";
import { randomBytes, sha256Hex } from "../../lib/testing/util.ts";
import { BINARIES } from "../../tools/permissions.ts";
import { type BackendStat, type BridgeSite, startBridgeSite, startBroker } from "./bridge_site.ts";
import {
  CAN_RUN,
  CAN_RUN_GO,
  denoExec,
  IP,
  ORIGIN_PORT,
  type Proc,
  progress,
  readOr,
  type TorClient,
  type TorNetwork,
  torNetwork,
  waitFor,
} from "./harness.ts";

const CLIENTS = 20;
/** The second broker's port (the harness's is 8081). */
const BROKER2_PORT = 8082;
const SMALL_FILE = 2 * 1000 * 1000;

/** A file of `size` random bytes served by the origin; returns its URL and sha256. */
async function originFile(net: TorNetwork, name: string, size: number) {
  const full = randomBytes(size);
  await Deno.writeFile(`${net.dir}/www/${name}`, full);
  return { url: `http://${IP}:${ORIGIN_PORT}/${name}`, sha256: await sha256Hex(full) };
}

/**
 * Starts `n` tor clients at once through the test PT straight to `site`'s server; client k
 * claims client_ip `clientIp(k)` (the server passes it to tor as USERADDR).
 */
function startClients(
  net: TorNetwork,
  site: BridgeSite,
  n: number,
  clientIp: (k: number) => string = () => "10.77.0.2",
): Promise<TorClient[]> {
  return Promise.all(Array.from({ length: n }, (_, k) =>
    net.startClient({
      bridge: site.bridgeLine(),
      transportPlugin: `snowflake ${
        denoExec("tests/e2e/test_pt_client.ts", BINARIES.client!.flags, [
          "--url",
          `${site.serverUrl}?client_ip=${clientIp(k)}`,
        ])
      }`,
      timeoutMs: 300_000,
    })));
}

function fmtStats(stats: Map<string, BackendStat>): string {
  return [...stats].map(([k, s]) => `${k} ${s.status} ${s.stot} sessions (${s.scur} now)`).join(
    ", ",
  );
}

/** The client_ips (USERADDR) tor instance `i` of `site` has seen. */
function userAddrs(site: BridgeSite, i: number): Set<string> {
  const log = readOr(`${site.instanceDir(i)}/extor.log`);
  return new Set(
    [...log.matchAll(/We rewrite our address from '[^']+' to '([\d.]+):1'/g)].map((m) => m[1]!),
  );
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
      progress(`HAProxy: ${fmtStats(stats)}`);
      for (const [name, s] of stats) assert(s.stot > 0, `HAProxy sent no connection to ${name}`);
      assertEquals(stats.size, 3);
      // Clients leaving end their relayed sessions; every instance's relay stays up.
      await Promise.all(clients.splice(0, 10).map((c) => c.stop()));
      await new Promise((r) => setTimeout(r, 3000));
      const left = await site.stats();
      progress(`HAProxy after 10 clients left: ${fmtStats(left)}`);
      for (const [name, s] of left) assertEquals(s.status, "UP", `${name} after clients left`);
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

Deno.test({
  name:
    "scale:instance-loss: one of 3 tors killed mid-download; HAProxy marks it down, new clients bootstrap, the others' downloads complete",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const site = await startBridgeSite(net, {
      name: "scale-b",
      instances: 3,
      wsPort: 8101,
      basePort: 10200,
    });
    const clients: TorClient[] = [];
    const ip = (k: number) => `10.77.1.${k + 1}`;
    try {
      const file = await originFile(net, "scale-b.bin", 5_000_000);
      const first = await startClients(net, site, 6, ip);
      clients.push(...first);
      // Which tor instance carries which client, from each instance's USERADDR lines.
      const victims = userAddrs(site, 1);
      assert(victims.size > 0, "tor1 carries no client");
      progress(`tor1 carries ${[...victims].join(", ")}`);
      // Read at ~640 KB/s (curl 7.88's --limit-rate does not limit), so that the downloads
      // are still running when tor1 dies.
      const slowCat = "import sys,time\nwhile b := sys.stdin.buffer.read(65536):\n" +
        "  sys.stdout.buffer.write(b); time.sleep(0.1)";
      const downloads = first.map((c, k) =>
        net.exec([
          "bash",
          "-c",
          `set -o pipefail; curl -sS --max-time 120 --socks5-hostname 127.0.0.1:${c.socksPort} ` +
          `${file.url} | python3 -c '${slowCat}' > ${net.dir}/scale-b-${k}.bin`,
        ])
      );
      await new Promise((r) => setTimeout(r, 3000));
      const sizes = first.map((_, k) => {
        try {
          return Deno.statSync(`${net.dir}/scale-b-${k}.bin`).size;
        } catch {
          return 0;
        }
      });
      progress(`killing tor1 (SIGKILL); bytes so far: ${sizes.join(", ")}`);
      assert(
        sizes.some((n, k) => !victims.has(ip(k)) && n < 5_000_000),
        "every download on tor2/tor3 had finished before the kill",
      );
      Deno.kill(site.instance(1).pid, "SIGKILL");
      const deadline = Date.now() + 30_000;
      while ((await site.stats()).get("tor1")?.status !== "DOWN") {
        assert(Date.now() < deadline, "HAProxy never marked tor1 DOWN");
        await new Promise((r) => setTimeout(r, 250));
      }
      const before = await site.stats();
      progress(`HAProxy: tor1 DOWN; ${fmtStats(before)}`);
      // New clients bootstrap over the two instances left.
      const later = await startClients(net, site, 3, (k) => ip(10 + k));
      clients.push(...later);
      const small = await originFile(net, "scale-b-small.bin", 200_000);
      for (const [k, c] of later.entries()) {
        const got = await net.curl(c, small.url, `scale-b-later-${k}.bin`);
        assertEquals(got.sha256, small.sha256);
      }
      const after = await site.stats();
      progress(`HAProxy after the new clients: ${fmtStats(after)}`);
      for (const k of later.keys()) {
        assert(!userAddrs(site, 1).has(ip(10 + k)), `new client ${ip(10 + k)} reached tor1`);
      }
      const results = await Promise.all(downloads);
      for (const [k, r] of results.entries()) {
        const path = `${net.dir}/scale-b-${k}.bin`;
        if (victims.has(ip(k))) {
          progress(`client on tor1 (${ip(k)}): curl exited ${r.code}`);
          continue;
        }
        assertEquals(r.code, 0, `download ${k} (${ip(k)}) failed: ${r.stderr}`);
        assertEquals(await sha256Hex(await Deno.readFile(path)), file.sha256);
      }
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await site.stop();
    }
  },
});

/** "Seen client … with transport 'snowflake'" lines over all of `site`'s tor instances. */
function snowflakeClientsSeen(site: BridgeSite, instances: number): number {
  let n = 0;
  for (let i = 1; i <= instances; i++) {
    n += readOr(`${site.instanceDir(i)}/extor.log`).match(
      /Seen client from '[^']+' with transport 'snowflake'/g,
    )?.length ?? 0;
  }
  return n;
}

Deno.test({
  name:
    "scale:two-bridges: two bridge sites in our broker's bridge list; Debian's snowflake-client naming each fingerprint reaches that site only",
  ignore: !CAN_RUN_GO,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const sites = await Promise.all([
      startBridgeSite(net, { name: "scale-c", instances: 2, wsPort: 8102, basePort: 10300 }),
      startBridgeSite(net, { name: "scale-d", instances: 1, wsPort: 8103, basePort: 10400 }),
    ]);
    const instances = [2, 1];
    const procs: Proc[] = [];
    try {
      const broker = await startBroker(net, "scale-broker", BROKER2_PORT, sites);
      procs.push(broker.proc);
      procs.push(net.startGoProxy("scale-go-proxy", ["-broker", broker.url]));
      for (
        const deadline = Date.now() + 60_000;
        !/\tunrestricted: [1-9]/.test(await broker.debug());
      ) {
        assert(
          Date.now() < deadline,
          `no proxy at our second broker:\n${broker.log().slice(-1500)}`,
        );
        await new Promise((r) => setTimeout(r, 500));
      }
      const small = await originFile(net, "scale-c.bin", 500_000);
      for (const [s, site] of sites.entries()) {
        const seenBefore = sites.map((x, k) => snowflakeClientsSeen(x, instances[k]!));
        const clientLog = `${net.dir}/scale-go-client-${site.name}.log`;
        const client = await net.startClient({
          bridge: site.bridgeLine(),
          transportPlugin: net.goClientTransportPlugin(clientLog, ["-url", broker.url]),
          timeoutMs: 180_000,
        }).catch((e) => {
          throw new Error(
            `${(e as Error).message}\n--- snowflake-client log:\n${
              readOr(clientLog).slice(-2000)
            }` +
              `\n--- broker log:\n${broker.log().slice(-2000)}`,
          );
        });
        try {
          const got = await net.curl(client, small.url, `scale-two-${site.name}.bin`);
          assertEquals(got.sha256, small.sha256);
        } finally {
          await client.stop();
        }
        assert(
          readOr(`${net.dir}/scale-go-proxy.log`).includes(`connected to relay: ${site.serverUrl}`),
          `the proxy never relayed to ${site.serverUrl}`,
        );
        const seenAfter = sites.map((x, k) => snowflakeClientsSeen(x, instances[k]!));
        progress(
          `client naming ${site.name} (${site.fingerprint}): snowflake clients seen by ` +
            sites.map((x, k) => `${x.name} ${seenBefore[k]} → ${seenAfter[k]}`).join(", "),
        );
        for (const k of sites.keys()) {
          if (k === s) assert(seenAfter[k]! > seenBefore[k]!, `${site.name}'s tors saw no client`);
          else {assertEquals(
              seenAfter[k],
              seenBefore[k],
              `${sites[k]!.name} saw the client of ${site.name}`,
            );}
        }
      }
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await Promise.all(sites.map((s) => s.stop()));
    }
  },
});

Deno.test({
  name:
    "scale:tor-cookie: tor rewrites its ExtORPortCookieAuthFile at start, so tors cannot share a static one",
  ignore: !CAN_RUN,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const dir = `${net.dir}/scale-cookie`;
    await Deno.mkdir(dir, { mode: 0o700 });
    const cookie = `${dir}/static_cookie`;
    await createCookieFile(cookie);
    const provisioned = await Deno.readFile(cookie);
    await Deno.writeTextFile(
      `${dir}/torrc`,
      [
        ...net.torrc("scale-cookie").map((l) => l.replace(/^Nickname .*/, "Nickname scalecookie")),
        "SocksPort 0",
        "BridgeRelay 1",
        "PublishServerDescriptor 0",
        "ORPort 127.0.0.1:10990",
        "ExtORPort 127.0.0.1:10991",
        `ExtORPortCookieAuthFile ${cookie}`,
      ].join("\n") + "\n",
    );
    const tor = net.spawn("scale-cookie-tor", ["tor", "-f", `${dir}/torrc`]);
    try {
      await waitFor(
        () => /Extended OR listener/.test(readOr(`${dir}/notice.log`)),
        60_000,
        () => tor.exited ? "tor exited" : null,
      );
      const now = await Deno.readFile(cookie);
      assertEquals(now.length, 64);
      assertNotEquals(now, provisioned, "tor kept the provisioned cookie");
    } finally {
      await tor.stop();
    }
  },
});
