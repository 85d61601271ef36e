import { assertEquals, assertThrows } from "../testing/assert.ts";
import {
  getArg,
  parseServerEnv,
  parseServerTransportOptions,
  PtSetupError,
  resolveAddr,
  serverSetup,
} from "./server_env.ts";
import { PtStdout } from "./stdout.ts";

const GOOD: Record<string, string> = {
  TOR_PT_MANAGED_TRANSPORT_VER: "1",
  TOR_PT_SERVER_TRANSPORTS: "snowflake",
  TOR_PT_SERVER_BINDADDR: "snowflake-127.0.0.1:7000",
  TOR_PT_ORPORT: "127.0.0.1:9001",
  TOR_PT_STATE_LOCATION: "/tmp/state",
};

function env(over: Record<string, string | undefined>) {
  const e = { ...GOOD, ...over };
  return (k: string) => e[k];
}

function setupError(over: Record<string, string | undefined>): [string, string[]] {
  const lines: string[] = [];
  try {
    serverSetup(new PtStdout((l) => lines.push(l)), env(over));
  } catch (e) {
    if (!(e instanceof PtSetupError)) throw e;
    return [e.keyword, lines];
  }
  throw new Error("no error");
}

Deno.test("config: server env parses good values", () => {
  const info = parseServerEnv(env({
    TOR_PT_SERVER_BINDADDR: "snowflake-[::1]:443,obfs4-0.0.0.0:80",
    TOR_PT_SERVER_TRANSPORTS: "*",
    TOR_PT_EXTENDED_SERVER_PORT: "127.0.0.1:9002",
    TOR_PT_AUTH_COOKIE_FILE: "/c",
    TOR_PT_SERVER_TRANSPORT_OPTIONS:
      "snowflake:num-turbotunnel=2;snowflake:orport-srcaddr=127.0.2.0/24;obfs4:x=a\\;b",
    TOR_PT_EXIT_ON_STDIN_CLOSE: "1",
  }));
  assertEquals(info.bindaddrs.length, 2);
  assertEquals(info.bindaddrs[0]!.addr, { hostname: "::1", port: 443 });
  assertEquals(getArg(info.bindaddrs[0]!.options, "num-turbotunnel"), "2");
  assertEquals(getArg(info.bindaddrs[0]!.options, "orport-srcaddr"), "127.0.2.0/24");
  assertEquals(getArg(info.bindaddrs[1]!.options, "x"), "a;b");
  assertEquals(info.extendedOrAddr, { hostname: "127.0.0.1", port: 9002 });
  assertEquals(info.orAddr, { hostname: "127.0.0.1", port: 9001 });
  assertEquals(info.exitOnStdinClose, true);
  assertEquals(info.stateLocation, "/tmp/state");
});

Deno.test("config: server env filters bindaddrs by TOR_PT_SERVER_TRANSPORTS", () => {
  const info = parseServerEnv(env({
    TOR_PT_SERVER_BINDADDR: "snowflake-127.0.0.1:1,obfs4-127.0.0.1:2",
    TOR_PT_SERVER_TRANSPORTS: "obfs4,meek",
  }));
  assertEquals(info.bindaddrs.map((b) => b.methodName), ["obfs4"]);
});

Deno.test("config: server env errors give goptlib's lines", () => {
  const cases: [Record<string, string | undefined>, string, string][] = [
    [
      { TOR_PT_MANAGED_TRANSPORT_VER: undefined },
      "ENV-ERROR",
      "ENV-ERROR no TOR_PT_MANAGED_TRANSPORT_VER environment variable",
    ],
    [{ TOR_PT_MANAGED_TRANSPORT_VER: "2,3" }, "VERSION-ERROR", "VERSION-ERROR no-version"],
    [
      { TOR_PT_SERVER_BINDADDR: undefined },
      "ENV-ERROR",
      "ENV-ERROR no TOR_PT_SERVER_BINDADDR environment variable",
    ],
    [
      { TOR_PT_SERVER_TRANSPORTS: undefined },
      "ENV-ERROR",
      "ENV-ERROR no TOR_PT_SERVER_TRANSPORTS environment variable",
    ],
    [
      { TOR_PT_SERVER_BINDADDR: "snowflake:1" },
      "ENV-ERROR",
      'ENV-ERROR TOR_PT_SERVER_BINDADDR: "snowflake:1": doesn\'t contain "-"',
    ],
    [
      { TOR_PT_SERVER_BINDADDR: "snowflake-localhost:1" },
      "ENV-ERROR",
      'ENV-ERROR TOR_PT_SERVER_BINDADDR: "snowflake-localhost:1": not an IP string: "localhost"',
    ],
    [
      { TOR_PT_SERVER_BINDADDR: "snowflake-1.2.3.4:99999" },
      "ENV-ERROR",
      'ENV-ERROR TOR_PT_SERVER_BINDADDR: "snowflake-1.2.3.4:99999": invalid port "99999"',
    ],
    [
      { TOR_PT_SERVER_BINDADDR: "a-1.2.3.4:1,a-1.2.3.4:2" },
      "ENV-ERROR",
      'ENV-ERROR TOR_PT_SERVER_BINDADDR: "a-1.2.3.4:2": duplicate method name "a"',
    ],
    [
      { TOR_PT_SERVER_TRANSPORT_OPTIONS: "snowflake" },
      "ENV-ERROR",
      'ENV-ERROR TOR_PT_SERVER_TRANSPORT_OPTIONS: "snowflake": no colon in "snowflake"',
    ],
    [
      { TOR_PT_ORPORT: "nope" },
      "ENV-ERROR",
      'ENV-ERROR cannot resolve TOR_PT_ORPORT "nope": address nope: missing port in address',
    ],
    [
      { TOR_PT_ORPORT: "" },
      "ENV-ERROR",
      "ENV-ERROR need TOR_PT_ORPORT or TOR_PT_EXTENDED_SERVER_PORT environment variable",
    ],
    [
      { TOR_PT_EXTENDED_SERVER_PORT: "127.0.0.1:1" },
      "ENV-ERROR",
      "ENV-ERROR need TOR_PT_AUTH_COOKIE_FILE environment variable with TOR_PT_EXTENDED_SERVER_PORT",
    ],
  ];
  for (const [over, keyword, line] of cases) {
    const [k, lines] = setupError(over);
    assertEquals(k, keyword);
    assertEquals(lines.at(-1), line);
    // VERSION 1 comes first unless the version itself failed.
    assertEquals(
      lines.length,
      keyword === "VERSION-ERROR" ||
        over.TOR_PT_MANAGED_TRANSPORT_VER === undefined && "TOR_PT_MANAGED_TRANSPORT_VER" in over
        ? 1
        : 2,
    );
  }
});

Deno.test("config: transport options escapes and errors", () => {
  const o = parseServerTransportOptions("a:k=v\\=\\:\\\\;a:k=w;b\\:c:x=");
  assertEquals(o.get("a")?.get("k"), ["v=:\\", "w"]);
  assertEquals(o.get("b:c")?.get("x"), [""]);
  assertEquals(parseServerTransportOptions("").size, 0);
  for (const bad of ["a:k", ":k=v", "a:=v", "a:k=v\\", "a=k"]) {
    assertThrows(() => parseServerTransportOptions(bad), SyntaxError);
  }
});

Deno.test("fuzz: server env parsing only throws PtSetupError", () => {
  const alphabet = "snowflake-:;=\\,[]0123456789.abc*";
  for (let i = 0; i < 5000; i++) {
    const r = () =>
      Array.from(
        { length: Math.floor(Math.random() * 20) },
        () => alphabet[Math.floor(Math.random() * alphabet.length)],
      ).join("");
    try {
      parseServerEnv(
        env({
          TOR_PT_SERVER_BINDADDR: r(),
          TOR_PT_SERVER_TRANSPORT_OPTIONS: r(),
          TOR_PT_ORPORT: r(),
        }),
      );
    } catch (e) {
      if (!(e instanceof PtSetupError)) throw e;
    }
  }
  assertEquals(resolveAddr("[::ffff:1.2.3.4]:5"), { hostname: "::ffff:1.2.3.4", port: 5 });
});
