import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { Http01Responder } from "./challenge.ts";

Deno.test("acme: challenge responder answers only pending tokens", async () => {
  const r = new Http01Responder();
  r.set("tok", "tok.thumb");
  const get = (path: string, method = "GET") =>
    r.handle(new Request(`http://h${path}`, { method }));
  const ok = get("/.well-known/acme-challenge/tok");
  assertEquals(ok.status, 200);
  assertEquals(await ok.text(), "tok.thumb");
  assertEquals(get("/.well-known/acme-challenge/other").status, 404);
  assertEquals(get("/tok").status, 404);
  assertEquals(get("/.well-known/acme-challenge/tok", "POST").status, 404);
  r.delete("tok");
  assertEquals(get("/.well-known/acme-challenge/tok").status, 404);
});

Deno.test("acme: challenge responder names the port it cannot bind", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const r = new Http01Responder();
  try {
    const e = assertThrows(() => r.listen(port, "127.0.0.1"), Error);
    assert(e.message.includes(`port ${port}`), e.message);
  } finally {
    busy.close();
    await r.close();
  }
});

Deno.test("acme: challenge responder serves over HTTP", async () => {
  const r = new Http01Responder();
  r.listen(0, "127.0.0.1");
  try {
    r.set("abc", "abc.key");
    const res = await fetch(`http://127.0.0.1:${r.port}/.well-known/acme-challenge/abc`);
    assertEquals(await res.text(), "abc.key");
  } finally {
    await r.close();
  }
});
