/**
 * `fronting:` HTTP rendezvous with domain fronting reaches a local TLS front that records
 * what it saw: the TLS SNI (read off the wire) is the front, and what the server routes by
 * (HTTP/1.1's Host, h2's `:authority`) is the broker, with no `host` field that says
 * otherwise (RFC 9113 §8.3.1). impit cannot front, as it names the front in `:authority`;
 * Chrome's TLS fronts through wreq-js over HTTP/1.1, Firefox's keeps Deno's own TLS and says
 * so (README "TLS fingerprint"); without a front impit speaks h2 with SNI, `:authority` and
 * host agreeing.
 */
import { assert, assertEquals, assertRejects } from "../../lib/testing/assert.ts";
import { frontedChromeRequest } from "../../lib/snowflake/fronted_chrome_http.ts";
import { impersonatedRequest } from "../../lib/snowflake/impersonated_http.ts";
import { HttpRendezvous } from "../../lib/snowflake/rendezvous_http.ts";
import { exchange, until, withClient } from "./standalone_client.ts";
import { type FrontRecord, makeCert, startTlsFront } from "./tls_front.ts";

const cert = await makeCert(["localhost", "broker.example"]);
// impit trusts only this file's CAs when it is set as it makes a client, and wreq-js adds them
// to its own (neither takes PEM); set only around those tests, as other test files share this
// process's environment. wreq-js makes its one client on first use: with this file's CA.
const caFile = await Deno.makeTempFile({ prefix: "sfclient-ca-", suffix: ".pem" });
await Deno.writeTextFile(caFile, cert.caPem);
globalThis.addEventListener("unload", () => Deno.removeSync(caFile));

/** `rec` went to `sni` and is routed to `authority`, with no `host` field naming another. */
function assertRouted(rec: FrontRecord | undefined, sni: string, authority: string): void {
  assert(rec, "the front saw no request");
  assertEquals({ sni: rec.sni, authority: rec.authority }, { sni, authority });
  assert(rec.host === null || rec.host === authority, `host ${rec.host} beside ${rec.authority}`);
}

Deno.test("fronting: SNI and TCP go to the front, Host names the broker", async () => {
  const front = await startTlsFront(cert, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(new Uint8Array([...new TextEncoder().encode("broker saw "), ...body]));
  });
  try {
    const broker = `https://broker.example:${front.port}/`;
    const r = new HttpRendezvous(broker, { fronts: ["localhost"], ca: [cert.caPem] });
    const reply = await r.exchange(new TextEncoder().encode("1.0\n{}"));
    assertEquals(new TextDecoder().decode(reply), "broker saw 1.0\n{}");
    assertEquals(front.records, [{
      sni: "localhost",
      alpn: null,
      host: `broker.example:${front.port}`,
      authority: `broker.example:${front.port}`,
      method: "POST",
      path: "/client",
    }]);
    console.log(`front saw SNI ${front.records[0]!.sni}, Host ${front.records[0]!.host}`);
  } finally {
    await front.close();
  }
});

Deno.test("fronting: without fronts, SNI and Host are both the broker's", async () => {
  const front = await startTlsFront(cert, () => new Response("ok"));
  try {
    const r = new HttpRendezvous(`https://localhost:${front.port}/`, { ca: [cert.caPem] });
    await r.exchange(new Uint8Array([1]));
    assertEquals(front.records[0]!.sni, "localhost");
    assertEquals(front.records[0]!.host, `localhost:${front.port}`);
  } finally {
    await front.close();
  }
});

Deno.test("fronting: a non-200 reply from the broker is an error", async () => {
  const front = await startTlsFront(cert, () => new Response("busy", { status: 503 }));
  try {
    const r = new HttpRendezvous(`https://localhost:${front.port}/`, { ca: [cert.caPem] });
    let err: Error | null = null;
    await r.exchange(new Uint8Array([1])).catch((e) => (err = e));
    assertEquals(/HTTP 503/.test(String(err)), true);
  } finally {
    await front.close();
  }
});

Deno.test("fronting: Chrome's TLS fronts over HTTP/1.1 through wreq-js, Host = the broker", async () => {
  const front = await startTlsFront(cert, async (req) => new Response(await req.text()));
  Deno.env.set("SSL_CERT_FILE", caFile);
  try {
    const broker = `broker.example:${front.port}`;
    const r = new HttpRendezvous(`https://${broker}/`, {
      fronts: ["localhost"],
      request: frontedChromeRequest,
    });
    const reply = await r.exchange(new TextEncoder().encode("1.0\n{}"));
    assertEquals(new TextDecoder().decode(reply), "1.0\n{}");
    assertRouted(front.records[0], "localhost", broker);
    assertEquals(front.records[0]!.alpn, "http/1.1");
    assertEquals(front.records[0]!.path, "/client");
  } finally {
    Deno.env.delete("SSL_CERT_FILE");
    await front.close();
  }
});

Deno.test("fronting: --impersonate-profile chrome with a front: SNI = the front, Host = the broker", async () => {
  const front = await startTlsFront(cert, () => new Response("", { status: 503 }));
  try {
    const broker = `broker.example:${front.port}`;
    await withClient(
      ["--impersonate-profile", "chrome", "--front", "localhost"],
      async (port, log) => {
        await exchange(port, [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        await until(() => front.records.length > 0);
        assert(/rendezvous TLS fingerprint: wreq-js chrome, HTTP\/1\.1/.test(log()), log());
        assert(!/WARNING/.test(log()), log());
      },
      { url: `https://${broker}/`, env: { SSL_CERT_FILE: caFile } },
    );
    assertRouted(front.records[0], "localhost", broker);
    const rec = front.records[0]!;
    assertEquals(rec.alpn, "http/1.1");
    console.log(`SNI ${rec.sni}, ALPN ${rec.alpn}, Host ${rec.host}`);
  } finally {
    await front.close();
  }
});

Deno.test("fronting: --impersonate-profile firefox with a front keeps Deno's TLS and warns", async () => {
  const front = await startTlsFront(cert, () => new Response("", { status: 503 }));
  try {
    const broker = `broker.example:${front.port}`;
    const warning = /WARNING: no browser TLS fingerprint for firefox with domain fronting/g;
    await withClient(
      ["--impersonate-profile", "firefox", "--front", "localhost"],
      async (port, log) => {
        await exchange(port, [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        await until(() => front.records.length > 0);
        assertEquals(log().match(warning)?.length, 1, log());
        assert(!/rendezvous TLS fingerprint:/.test(log()), log());
      },
      { url: `https://${broker}/`, env: { DENO_CERT: caFile } },
    );
    assertRouted(front.records[0], "localhost", broker);
    assertEquals(front.records[0]!.alpn, null);
  } finally {
    await front.close();
  }
});

for (const profile of ["chrome151", "firefox144"] as const) {
  Deno.test(`fronting: impit's ${profile} refuses a front rather than misname the broker`, async () => {
    const front = await startTlsFront(cert, () => new Response("ok"));
    Deno.env.set("SSL_CERT_FILE", caFile);
    try {
      const r = new HttpRendezvous(`https://broker.example:${front.port}/`, {
        fronts: ["localhost"],
        request: impersonatedRequest(profile),
      });
      await assertRejects(() => r.exchange(new Uint8Array([1])), TypeError, ":authority");
      assertEquals(front.records, []);
    } finally {
      Deno.env.delete("SSL_CERT_FILE");
      await front.close();
    }
  });

  Deno.test(`fronting: without a front impit's ${profile} speaks h2, SNI = :authority`, async () => {
    const front = await startTlsFront(cert, async (req) => new Response(await req.text()));
    Deno.env.set("SSL_CERT_FILE", caFile);
    try {
      const url = `https://localhost:${front.port}/`;
      const r = new HttpRendezvous(url, { request: impersonatedRequest(profile) });
      const reply = await r.exchange(new TextEncoder().encode("1.0\n{}"));
      assertEquals(new TextDecoder().decode(reply), "1.0\n{}");
      assertRouted(front.records[0], "localhost", `localhost:${front.port}`);
      assertEquals(front.records[0]!.alpn, "h2");
      const rec = front.records[0]!;
      console.log(
        `${profile}: SNI ${rec.sni}, ALPN h2, :authority ${rec.authority}, host ${rec.host}`,
      );
    } finally {
      Deno.env.delete("SSL_CERT_FILE");
      await front.close();
    }
  });
}
