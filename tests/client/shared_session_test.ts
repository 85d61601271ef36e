/**
 * `shared-session:` the standalone mode's shared sessions over the real chain (our broker,
 * Debian's snowflake-proxy across a veth, our server, dante at the far end; tests/client/chain.ts):
 * concurrent SOCKS connections become streams of the session opened at startup — one
 * rendezvous, one proxy, one session at the server, every file intact; SOCKS credentials that
 * change the settings get a session of their own (`max=2`: one session striped over two
 * proxies for both such connections), ones that do not share; and once the session died, the
 * next connection starts a new one. PT mode keeps Go's model: nothing opened before tor asks, a
 * session per connection, closed with it. The cache's rules with stand-ins are in
 * tests/client/shared_sessions_test.ts.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { DEFAULT_BRIDGE_FINGERPRINT } from "../../lib/snowflake/messages.ts";
import { SILENT_SESSION_MS } from "../../client/shared_sessions.ts";
import { Chain, ONE_CLIENT } from "./chain.ts";
import { CAN_NETNS, DENO, ROOT, waitUntil } from "./netns.ts";

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;
/** A proxy connected to one of the client's sessions: one successful rendezvous. */
const PROXY_CONNECTED = /proxy \S+ connected \[/g;
/** A KCP session the server accepted. */
const SERVER_SESSION = / opened \(instance/g;

async function serverSessions(chain: Chain): Promise<number> {
  return count(await Deno.readTextFile(`${chain.net.dir}/server-safe.log`), SERVER_SESSION);
}

function dump(chain: Chain): void {
  for (const p of chain.net.procs) {
    const s = p.exitStatus;
    const ended = s ? ` (ended: code ${s.code}${s.signal ? `, ${s.signal}` : ""})` : "";
    console.error(`--- ${p.name}${ended}\n${p.log().slice(-3000)}`);
  }
}

Deno.test({
  name:
    "shared-session: concurrent SOCKS connections share the startup session (one rendezvous, one proxy); other settings (multipath too) get their own",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 51, fileSize: 1_000_000 });
    try {
      for (let i = 0; i < 5; i++) chain.debianProxy(ONE_CLIENT);
      await chain.waitForProxies(5);
      const client = await chain.ourClient(["--unsafe-logging"]);
      const log = () => Deno.readTextFileSync(client.log);
      await waitUntil(() => count(log(), PROXY_CONNECTED) === 1, 30_000);

      const fetches = await Promise.all([
        chain.fetch(client.port),
        chain.fetch(client.port),
        chain.fetch(client.port),
        chain.curl(client.port, "--socks5-hostname"),
        chain.curl(client.port, "--socks4a"),
      ]);
      for (const f of fetches) assertEquals(f.sha256, chain.fileSha256);
      console.log(
        `5 concurrent fetches: first byte ${
          fetches.map((f) => f.firstByteSeconds.toFixed(3)).join(", ")
        } s`,
      );
      assertEquals(
        count(log(), /stream on session 1\b/g),
        5,
        "five streams on the startup session",
      );
      assertEquals(count(log(), PROXY_CONNECTED), 1, "one rendezvous");
      assertEquals(await serverSessions(chain), 1, "one session at the server");
      assertEquals((await chain.carryingProxyPids()).length, 1, "one proxy carries it");
      await chain.waitForProxies(4, 5_000); // the others were never matched

      // max=1 is the flags' own setting: the same session. A fingerprint changes the settings.
      const same = await chain.curl(client.port, "--socks5-hostname", chain.fileUrl, 60, "max=1");
      assertEquals(same.sha256, chain.fileSha256);
      assertEquals(count(log(), /stream on session 1\b/g), 6);
      const other = await chain.curl(
        client.port,
        "--socks5-hostname",
        chain.fileUrl,
        60,
        `fingerprint=${DEFAULT_BRIDGE_FINGERPRINT}`,
      );
      assertEquals(other.sha256, chain.fileSha256);
      assertEquals(
        count(log(), /stream on session 2\b/g),
        1,
        "other settings: a session of their own",
      );
      assertEquals(count(log(), PROXY_CONNECTED), 2);
      assertEquals(await serverSessions(chain), 2);
      assertEquals((await chain.carryingProxyPids()).length, 2);
      // Both sessions stay live (idle, not yet closed): a third connection of each kind reuses them.
      const again = await chain.curl(
        client.port,
        "--socks5-hostname",
        chain.fileUrl,
        60,
        `fingerprint=${DEFAULT_BRIDGE_FINGERPRINT}`,
      );
      assertEquals(again.sha256, chain.fileSha256);
      assertEquals(count(log(), /stream on session 2\b/g), 2);
      assertEquals(count(log(), PROXY_CONNECTED), 2);

      // Multipath under sharing: two max=2 connections are streams of one session striped over
      // two proxies.
      const multi = await Promise.all(
        [0, 1].map(() => chain.curl(client.port, "--socks5-hostname", chain.fileUrl, 60, "max=2")),
      );
      for (const f of multi) assertEquals(f.sha256, chain.fileSha256);
      assertEquals(count(log(), /stream on session 3\b/g), 2);
      await waitUntil(() => count(log(), PROXY_CONNECTED) === 4, 30_000);
      assertEquals(await serverSessions(chain), 3);
      assertEquals((await chain.carryingProxyPids()).length, 4);
    } catch (e) {
      dump(chain);
      throw e;
    } finally {
      await chain.stop();
    }
  },
});

Deno.test({
  name: "shared-session: after the session died the next connection starts a new one",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 52, fileSize: 1_000_000 });
    try {
      for (let i = 0; i < 3; i++) chain.debianProxy(ONE_CLIENT);
      await chain.waitForProxies(3);
      const port = 1190;
      const front = chain.net.spawn(chain.net.a, "shared-front", [
        DENO,
        "run",
        "--allow-all",
        `${ROOT}/tests/client/shared_front.ts`,
        String(port),
        chain.brokerUrl,
        chain.stunUrl,
      ]);
      await waitUntil(() => count(front.log(), PROXY_CONNECTED) === 1, 30_000);
      const [a, b] = await Promise.all([chain.fetch(port), chain.fetch(port)]);
      assertEquals([a.sha256, b.sha256], [chain.fileSha256, chain.fileSha256]);
      assertEquals(count(front.log(), /stream on session 1\b/g), 2);

      front.child.kill("SIGHUP");
      await waitUntil(() => /session 1: closed/.test(front.log()), 10_000);
      const c = await chain.fetch(port);
      assertEquals(c.sha256, chain.fileSha256);
      assertEquals(count(front.log(), /stream on session 2\b/g), 1, "a new session");
      assertEquals(count(front.log(), PROXY_CONNECTED), 2, "with a new rendezvous");
      assertEquals(await serverSessions(chain), 2);
      const d = await chain.fetch(port);
      assertEquals(d.sha256, chain.fileSha256);
      assertEquals(count(front.log(), /stream on session 2\b/g), 2, "which later ones share");

      await front.stop(10_000);
      const status = await front.status;
      assert(status.success, "SIGTERM: every session and peer connection closed, the process ends");
      assert(/stopped/.test(front.log()));
    } catch (e) {
      dump(chain);
      throw e;
    } finally {
      await chain.stop();
    }
  },
});

Deno.test({
  name:
    "shared-session: after the server restarted (it forgot the ClientID), connections get a new session once the old one is silent past the bound",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 54, fileSize: 1_000_000 });
    try {
      for (let i = 0; i < 4; i++) chain.debianProxy(ONE_CLIENT);
      await chain.waitForProxies(4);
      const client = await chain.ourClient(["--unsafe-logging"]);
      const log = () => Deno.readTextFileSync(client.log);
      await waitUntil(() => count(log(), PROXY_CONNECTED) === 1, 30_000);
      const a = await chain.curl(client.port);
      assertEquals(a.sha256, chain.fileSha256);
      assertEquals(count(log(), /stream on session 1\b/g), 1);

      // The proxy loses its server and closes; the next one reaches a server that never heard
      // of the ClientID: KCP waits for segments it will never get, and smux hears nothing. The
      // download's last frames and acknowledgements go first: the client writing as the proxy
      // closes is when @roamhq/wrtc can crash it (docs/client.md "What is not done").
      await new Promise((r) => setTimeout(r, 2000));
      const t0 = performance.now();
      await chain.restartServer();
      // Connections that land on the stuck session hang: curl gives each 20 s. A client that
      // died ends the wait at once, with how it died.
      let got: { sha256: string } | null = null;
      let attempts = 0;
      let failure = "";
      while (got === null && performance.now() - t0 < SILENT_SESSION_MS + 120_000) {
        const died = client.proc.death();
        if (died) throw new Error(`after the restart and ${attempts} attempts: ${died}`);
        attempts++;
        got = await chain.curl(client.port, "--socks5-hostname", chain.fileUrl, 20)
          .catch((e) => {
            failure = (e as Error).message;
            return null;
          });
      }
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `a connection got through ${seconds.toFixed(1)} s after the restart, attempt ${attempts}`,
      );
      assert(
        got !== null,
        `no connection got through in ${attempts} attempts; the last: ${failure}\n` +
          `client log ends:\n${log().slice(-3000)}`,
      );
      assertEquals(got.sha256, chain.fileSha256);
      const retired = log().search(/session 1: nothing from the server for \d+ s; new connections/);
      assert(retired >= 0, "session 1 was retired");
      const closed = log().search(/session 1: closed/);
      assert(closed < 0 || closed > retired, "by the silence rule, not closed by smux or KCP");
      assertEquals(
        count(log(), /stream on session 2\b/g),
        1,
        "the one that got through: a new session",
      );
      const b = await chain.curl(client.port);
      assertEquals(b.sha256, chain.fileSha256);
      assertEquals(count(log(), /stream on session 2\b/g), 2, "which later ones share");
    } catch (e) {
      dump(chain);
      throw e;
    } finally {
      await chain.stop();
    }
  },
});

Deno.test({
  name:
    "shared-session: PT mode keeps Go's model: nothing before tor asks, a session per connection",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 53, fileSize: 1_000_000 });
    try {
      for (let i = 0; i < 3; i++) chain.debianProxy(ONE_CLIENT);
      await chain.waitForProxies(3);
      const client = await chain.ourPtClient();
      const log = () => Deno.readTextFileSync(client.log);
      // The standalone mode would have its startup session's proxy by now.
      await new Promise((r) => setTimeout(r, 2000));
      assert(!/offer ready|session \d/.test(log()), "nothing reached the broker before tor asked");
      // socks_fetch's `+inner`: bridge arguments as tor sends them, then the far SOCKS server.
      const [a, b] = await Promise.all([
        chain.fetch(`${client.port}+inner`),
        chain.fetch(`${client.port}+inner`),
      ]);
      assertEquals([a.sha256, b.sha256], [chain.fileSha256, chain.fileSha256]);
      assertEquals(count(log(), PROXY_CONNECTED), 2, "a rendezvous each");
      assertEquals(await serverSessions(chain), 2);
      // Each connection's session ends with it.
      await waitUntil(() => count(log(), /session \d: closed/g) === 2, 10_000);
    } catch (e) {
      dump(chain);
      throw e;
    } finally {
      await chain.stop();
    }
  },
});
