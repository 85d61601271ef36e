/**
 * `socks:` malformed input to the client's SOCKS front end gets the protocol's error reply
 * and one clear log line; `tls-fingerprint:` asking for a browser TLS fingerprint logs the
 * documented warning (Deno cannot mimic a browser's ClientHello; README). The client runs
 * as its binary, in standalone mode on loopback, pointed at a broker that is not there.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { runArgs } from "../../tools/permissions.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function withClient(
  extra: string[],
  fn: (port: number, log: () => string) => Promise<void>,
): Promise<void> {
  const port = freeTcpPort();
  const dir = await Deno.makeTempDir({ prefix: "sfclient-socks-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: runArgs("client", [
      "--socks",
      `127.0.0.1:${port}`,
      "--url",
      `http://127.0.0.1:${freeTcpPort()}/`,
      "--log",
      `${dir}/client.log`,
      ...extra,
    ]),
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const log = () => {
    try {
      return Deno.readTextFileSync(`${dir}/client.log`);
    } catch {
      return "";
    }
  };
  try {
    for (let i = 0; !/SOCKS listener/.test(log()); i++) {
      if (i > 300) throw new Error("client did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    await fn(port, log);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends `bytes`, returns whatever comes back before the client closes (or 2 s pass). */
async function exchange(port: number, bytes: number[]): Promise<number[]> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new Uint8Array(bytes));
  const got: number[] = [];
  const buf = new Uint8Array(64);
  const timer = setTimeout(() => c.close(), 2000);
  try {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      got.push(...buf.subarray(0, n));
    }
  } catch { /* closed by the timer */ }
  clearTimeout(timer);
  try {
    c.close();
  } catch { /* closed */ }
  return got;
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 50 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
};

Deno.test("socks: malformed requests get the protocol's error reply and a log line", async () => {
  await withClient([], async (port, log) => {
    // SOCKS5 BIND: method selection, then "command not supported".
    assertEquals(await exchange(port, [5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80]), [
      5,
      0,
      5,
      7,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    // SOCKS5 address type 9.
    assertEquals((await exchange(port, [5, 1, 0, 5, 1, 0, 9, 1, 2]))[3], 8);
    // SOCKS5 offering only GSSAPI: "no acceptable methods".
    assertEquals(await exchange(port, [5, 1, 1]), [5, 0xff]);
    // SOCKS4 BIND: rejected (0x5B).
    assertEquals(await exchange(port, [4, 2, 0, 80, 127, 0, 0, 1, 0]), [0, 0x5b, 0, 0, 0, 0, 0, 0]);
    // Version 7: no reply, closed.
    assertEquals(await exchange(port, [7, 1, 2, 3]), []);
    // Bridge arguments that do not parse (SOCKS5 username "max=x"): auth ok, then refused.
    const user = [...new TextEncoder().encode("max=x")];
    const reply = await exchange(port, [
      5,
      1,
      2,
      1,
      user.length,
      ...user,
      1,
      0,
      5,
      1,
      0,
      1,
      127,
      0,
      0,
      1,
      0,
      80,
    ]);
    assertEquals(reply.slice(0, 4), [5, 2, 1, 0]);
    assertEquals(reply[5], 2); // "connection not allowed by ruleset"
    await until(() => /bad bridge arguments: max="x"/.test(log()));
    const lines = log().split("\n");
    assert(lines.some((l) => /malformed request: SOCKS5 command 2 is not CONNECT/.test(l)), log());
    assert(lines.some((l) => /malformed request: unknown SOCKS version 7/.test(l)), log());
    assert(
      lines.some((l) => /bad bridge arguments: max="x" is not a positive integer/.test(l)),
      log(),
    );
  });
});

Deno.test("tls-fingerprint: asking for a browser fingerprint logs the documented warning", async () => {
  await withClient(["--impersonate-profile", "chrome"], async (port, log) => {
    await exchange(port, [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
    await until(() => /WARNING: a browser TLS fingerprint \(chrome\)/.test(log()));
    assert(/Deno cannot mimic a browser's ClientHello/.test(log()), log());
  });
  // The bridge-line form, as Tor Browser's lines carry it.
  await withClient([], async (port, log) => {
    const user = [...new TextEncoder().encode("utls-imitate=hellorandomizedalpn")];
    await exchange(port, [5, 1, 2, 1, user.length, ...user, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
    await until(() => /WARNING: a browser TLS fingerprint \(hellorandomizedalpn\)/.test(log()));
    assert(/rustls/.test(log()), log());
  });
});
