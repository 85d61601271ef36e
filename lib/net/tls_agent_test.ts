import https from "node:https";
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { makeCert } from "../../tests/client/tls_front.ts";
import { TlsAgent } from "./tls_agent.ts";

function get(url: string, agent: https.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(url, { agent }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(body));
      res.on("error", reject);
    }).on("error", reject);
  });
}

Deno.test("net: TlsAgent carries HTTPS by name and by IP, trusting only its ca when given one", async () => {
  const cert = await makeCert(["localhost"]);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: cert.certPem, key: cert.keyPem, onListen() {} },
    (req) => new Response(new URL(req.url).pathname),
  );
  const agent = new TlsAgent({ ca: cert.caPem });
  const stranger = new TlsAgent({ ca: (await makeCert(["localhost"])).caPem });
  try {
    const port = server.addr.port;
    assertEquals(await get(`https://localhost:${port}/a`, agent), "/a");
    assertEquals(await get(`https://127.0.0.1:${port}/b`, agent), "/b");
    await assertRejects(() => get(`https://localhost:${port}/c`, stranger));
    // Without a ca: Deno's root store, which does not know the test CA.
    await assertRejects(() => get(`https://localhost:${port}/d`, new TlsAgent()));
  } finally {
    agent.destroy();
    stranger.destroy();
    await server.shutdown();
  }
});
