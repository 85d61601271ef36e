import { assertEquals, assertNotEquals } from "../testing/assert.ts";
import { CertCache } from "./cache.ts";

Deno.test("acme: cache is a 0700 directory of 0600 files keyed by directory and names", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "acme-cache-" });
  try {
    const cache = new CertCache(`${tmp}/a/b`);
    await cache.ensureDir();
    assertEquals((await Deno.stat(cache.dir)).mode! & 0o777, 0o700);
    assertEquals(await cache.readAccountKey(), null);
    await cache.writeAccountKey("KEY");
    const name = await cache.certName("https://ca/dir", ["B.example", "a.example"]);
    assertEquals(name, await cache.certName("https://ca/dir", ["a.example", "b.example"]));
    assertNotEquals(name, await cache.certName("https://other/dir", ["a.example", "b.example"]));
    assertEquals(await cache.readCert(name), null);
    await cache.writeCert(name, { certPem: "C", keyPem: "K" });
    assertEquals(await cache.readCert(name), { certPem: "C", keyPem: "K" });
    assertEquals(await cache.readAccountKey(), "KEY");
    const files: string[] = [];
    for await (const e of Deno.readDir(cache.dir)) {
      files.push(e.name);
      assertEquals((await Deno.stat(`${cache.dir}/${e.name}`)).mode! & 0o777, 0o600, e.name);
    }
    assertEquals(files.length, 3, files.join(" "));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
