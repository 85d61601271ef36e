/**
 * `fronting:` HTTP rendezvous with domain fronting reaches a local TLS front that records
 * what it saw: the TLS SNI (read off the wire) is the front, the Host header is the broker;
 * with Deno's own TLS (node:https, HTTP/1.1) and with a browser's (impit, which speaks h2
 * there: `:authority` stays the front's, README "TLS fingerprint").
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { impersonatedRequest } from "../../lib/snowflake/impersonated_http.ts";
import { HttpRendezvous } from "../../lib/snowflake/rendezvous_http.ts";
import { makeCert, startTlsFront } from "./tls_front.ts";

const cert = await makeCert(["localhost", "broker.example"]);
// impit trusts only this file's CAs when it is set as it makes a client (it cannot take PEM);
// set only around the impit tests, as other test files share this process's environment.
const caFile = await Deno.makeTempFile({ prefix: "sfclient-ca-", suffix: ".pem" });
await Deno.writeTextFile(caFile, cert.caPem);
globalThis.addEventListener("unload", () => Deno.removeSync(caFile));

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

for (const profile of ["chrome151", "firefox144"] as const) {
  Deno.test(`fronting: through impit's ${profile} TLS, SNI is the front, Host the broker`, async () => {
    const front = await startTlsFront(cert, async (req) => new Response(await req.text()));
    Deno.env.set("SSL_CERT_FILE", caFile);
    try {
      const broker = `https://broker.example:${front.port}/`;
      const r = new HttpRendezvous(broker, {
        fronts: ["localhost"],
        request: impersonatedRequest(profile),
      });
      const reply = await r.exchange(new TextEncoder().encode("1.0\n{}"));
      assertEquals(new TextDecoder().decode(reply), "1.0\n{}");
      assertEquals(front.records, [{
        sni: "localhost",
        host: `broker.example:${front.port}`,
        authority: `localhost:${front.port}`,
        method: "POST",
        path: "/client",
      }]);
      const rec = front.records[0]!;
      console.log(`${profile}: SNI ${rec.sni}, host ${rec.host}, :authority ${rec.authority}`);
    } finally {
      Deno.env.delete("SSL_CERT_FILE");
      await front.close();
    }
  });
}
