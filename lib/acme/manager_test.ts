import { assert, assertRejects, assertThrows } from "../testing/assert.ts";
import { Logger } from "../log/mod.ts";
import { AcmeCertManager } from "./manager.ts";
import { freeTcpPort } from "../testing/util.ts";

const base = { directoryUrl: "https://acme.invalid/dir", hostnames: ["a.example"], cacheDir: "/x" };

Deno.test("acme: manager rejects bad options", () => {
  assertThrows(() => new AcmeCertManager({ ...base, hostnames: [] }), TypeError);
  assertThrows(() => new AcmeCertManager({ ...base, hostnames: ["a b"] }), TypeError, "a b");
  assertThrows(() => new AcmeCertManager({ ...base, directoryUrl: "nope" }), TypeError, "nope");
  assertThrows(() => new AcmeCertManager({ ...base, httpPort: 70000 }), RangeError, "70000");
  assertThrows(() => new AcmeCertManager({ ...base, renewBeforeMs: -1 }), RangeError);
  assertThrows(() => new AcmeCertManager(base).current(), Error, "no certificate");
});

Deno.test("acme: unreachable ACME server fails start with the directory URL and the cause", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "acme-unreach-" });
  const port = freeTcpPort();
  const lines: string[] = [];
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const m = new AcmeCertManager({
    directoryUrl,
    hostnames: ["a.example"],
    cacheDir: tmp,
    httpPort: 0,
    httpHostname: "127.0.0.1",
    startAttempts: 2,
    retryMinMs: 10,
    log: new Logger({ write: (s) => lines.push(s), unsafe: true }),
  });
  try {
    const e = await assertRejects(() => m.start(), Error, directoryUrl);
    assert(e.message.includes("ECONNREFUSED"), e.message);
    assert(lines.some((s) => s.includes("attempt 1/2 failed")), lines.join("\n"));
    assert(m.httpPort === null, "the HTTP-01 listener is closed after a failed start");
  } finally {
    await m.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("acme: an unusable cache directory fails start with its path", async () => {
  const tmp = await Deno.makeTempFile({ prefix: "acme-notdir-" });
  const m = new AcmeCertManager({ ...base, cacheDir: `${tmp}/cache`, httpPort: 0 });
  try {
    await assertRejects(() => m.start(), Error, `cannot create cache directory ${tmp}/cache`);
  } finally {
    await m.close();
    await Deno.remove(tmp);
  }
});
