/**
 * `socks:` malformed input to the client's SOCKS front end gets the protocol's error reply
 * and one clear log line. The client runs as its binary, in standalone mode on loopback,
 * pointed at a broker that is not there.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { exchange, until, withClient } from "./standalone_client.ts";

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
