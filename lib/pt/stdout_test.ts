import { assertEquals, assertThrows } from "../testing/assert.ts";
import { encodeCString, encodeSmethodArgs, formatLine, PtStdout } from "./stdout.ts";

Deno.test("codec: PT stdout lines match pt-spec", () => {
  const lines: string[] = [];
  const out = new PtStdout((l) => lines.push(l));
  out.version();
  out.versionError();
  out.envError("no TOR_PT_SERVER_BINDADDR environment variable");
  out.smethod("snowflake", "127.0.0.1:7000", [["tls", "no"]]);
  out.smethod("snowflake", "[::1]:443", [["tls", "yes"], ["hostname", "a=b,c"]]);
  out.smethod("snowflake", "127.0.0.1:1");
  out.smethodError("obfs4", "no such method");
  out.smethodsDone();
  out.cmethod("snowflake", "socks5", "127.0.0.1:9999");
  out.cmethodError("snowflake", "bad\nthing");
  out.cmethodsDone();
  out.proxyDone();
  out.proxyError("unsupported scheme");
  out.log("notice", 'said "hi"\n\\ \u00e9');
  out.status("snowflake", { CONNECT: "Success", ADDRESS: "1.2.3.4:5", MSG: "two words" });
  assertEquals(lines, [
    "VERSION 1",
    "VERSION-ERROR no-version",
    "ENV-ERROR no TOR_PT_SERVER_BINDADDR environment variable",
    "SMETHOD snowflake 127.0.0.1:7000 ARGS:tls=no",
    "SMETHOD snowflake [::1]:443 ARGS:tls=yes,hostname=a\\=b\\,c",
    "SMETHOD snowflake 127.0.0.1:1",
    "SMETHOD-ERROR obfs4 no such method",
    "SMETHODS DONE",
    "CMETHOD snowflake socks5 127.0.0.1:9999",
    "CMETHOD-ERROR snowflake bad thing",
    "CMETHODS DONE",
    "PROXY DONE",
    "PROXY-ERROR unsupported scheme",
    'LOG SEVERITY=notice MESSAGE="said \\"hi\\"\\n\\\\ \\303\\251"',
    'STATUS TRANSPORT=snowflake CONNECT=Success ADDRESS=1.2.3.4:5 MSG="two words"',
  ]);
});

Deno.test("codec: CString, SMETHOD args and keyword checks", () => {
  assertEquals(encodeCString("a\tb\rc\x01"), '"a\\tb\\rc\\001"');
  assertEquals(encodeSmethodArgs([["k\\", "v"]]), "k\\\\=v");
  assertEquals(formatLine("X", "\u2603"), "X ?");
  assertThrows(() => formatLine("BAD WORD"), TypeError);
});
