/**
 * `tls-fingerprint:` the whole chain with `--impersonate-profile chrome`: the client's
 * rendezvous goes through impit (its Chrome profile, here over plain HTTP to our broker), or,
 * with a front, through wreq-js's Chrome over HTTP/1.1 to a TLS front in the chain's namespace
 * that relays to the broker; either finds Debian's proxy and carries a file intact.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { CAN_NETNS, DENO, ROOT, waitUntil } from "./netns.ts";
import { makeCert } from "./tls_front.ts";

const namespaced = { ignore: !CAN_NETNS, sanitizeOps: false, sanitizeResources: false };

/** Runs `fn` on a chain with Debian's proxy waiting; prints every process's log if it throws. */
async function withChain(subnet: number, fn: (chain: Chain) => Promise<void>): Promise<void> {
  const chain = await Chain.start({ subnet, fileSize: 1_000_000 });
  try {
    chain.debianProxy();
    await chain.waitForProxies();
    await fn(chain);
  } catch (e) {
    for (const p of chain.net.procs) console.error(`--- ${p.name}\n${p.log().slice(-2000)}`);
    throw e;
  } finally {
    await chain.stop();
  }
}

Deno.test({
  name: "tls-fingerprint: the whole chain rendezvoused through impit's Chrome profile",
  ...namespaced,
  async fn() {
    await withChain(47, async (chain) => {
      const client = await chain.ourClient(["--impersonate-profile", "chrome"]);
      const got = await chain.curl(client.port);
      assertEquals(got.sha256, chain.fileSha256);
      const log = await Deno.readTextFile(client.log);
      assert(/rendezvous TLS fingerprint: impit chrome151/.test(log), log);
      console.log("1 MB through a proxy found by a rendezvous through impit's chrome151 profile");
    });
  },
});

Deno.test({
  name: "tls-fingerprint: the whole chain rendezvoused through a front with wreq-js's Chrome",
  ...namespaced,
  async fn() {
    await withChain(88, async (chain) => {
      const dir = chain.net.dir;
      const cert = await makeCert(["localhost"]);
      await Deno.writeTextFile(`${dir}/front.pem`, cert.certPem);
      await Deno.writeTextFile(`${dir}/front.key`, cert.keyPem);
      await Deno.writeTextFile(`${dir}/ca.pem`, cert.caPem);
      const front = chain.net.spawn(chain.net.a, "front", [
        DENO,
        "run",
        "--allow-net",
        `--allow-read=${dir}`,
        `${ROOT}/tests/client/tls_front_relay.ts`,
        `${dir}/front.pem`,
        `${dir}/front.key`,
        chain.brokerUrl,
      ]);
      const port = () => /^port (\d+)$/m.exec(front.log())?.[1];
      await waitUntil(() => port() !== undefined, 30_000, () => front.exited ? front.log() : null);
      const broker = `broker.test:${port()}`;
      const client = await chain.ourClient(
        ["--impersonate-profile", "chrome"],
        ["--url", `https://${broker}/`, "--front", "localhost"],
        { SSL_CERT_FILE: `${dir}/ca.pem` },
      );
      const got = await chain.curl(client.port);
      assertEquals(got.sha256, chain.fileSha256);
      const log = await Deno.readTextFile(client.log);
      assert(/rendezvous TLS fingerprint: wreq-js chrome, HTTP\/1\.1/.test(log), log);
      const seen = front.log().split("\n").filter((l) => l.startsWith("{")).map((l) =>
        JSON.parse(l)
      );
      assert(seen.some((r) => r.path === "/client"), front.log());
      for (const r of seen) {
        assertEquals([r.sni, r.alpn, r.host], ["localhost", "http/1.1", broker]);
      }
      console.log(
        `1 MB through a proxy found by ${seen.length} fronted rendezvous: SNI localhost, ` +
          `ALPN http/1.1, Host ${broker}`,
      );
    });
  },
});
