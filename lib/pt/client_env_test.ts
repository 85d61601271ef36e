import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import {
  clientSetup,
  parseClientEnv,
  parseProxyUri,
  PtProxyError,
  wantsMethod,
} from "./client_env.ts";
import { PtSetupError } from "./server_env.ts";
import { PtStdout } from "./stdout.ts";

const env = (vars: Record<string, string>) => (k: string) => vars[k];
const BASE = { TOR_PT_MANAGED_TRANSPORT_VER: "1", TOR_PT_CLIENT_TRANSPORTS: "snowflake,obfs4" };

/** Runs clientSetup and returns the lines it printed and the error, if any. */
function setup(vars: Record<string, string>) {
  const lines: string[] = [];
  try {
    const info = clientSetup(new PtStdout((l) => lines.push(l)), env(vars));
    return { lines, info, error: null };
  } catch (e) {
    return { lines, info: null, error: e as Error };
  }
}

Deno.test("pt:client: a good environment", () => {
  const { lines, info } = setup({
    ...BASE,
    TOR_PT_STATE_LOCATION: "/var/lib/tor/pt_state",
    TOR_PT_EXIT_ON_STDIN_CLOSE: "1",
  });
  assertEquals(lines, ["VERSION 1"]);
  assertEquals(info, {
    methodNames: ["snowflake", "obfs4"],
    proxy: null,
    stateLocation: "/var/lib/tor/pt_state",
    exitOnStdinClose: true,
  });
  assert(wantsMethod(info!, "snowflake") && !wantsMethod(info!, "meek"), "wantsMethod");
  assert(wantsMethod({ ...info!, methodNames: ["*"] }, "meek"), "* wants all");
});

Deno.test("pt:client: missing and bad variables give ENV-ERROR / VERSION-ERROR", () => {
  let r = setup({ TOR_PT_CLIENT_TRANSPORTS: "snowflake" });
  assertEquals(r.lines, ["ENV-ERROR no TOR_PT_MANAGED_TRANSPORT_VER environment variable"]);
  assert(r.error instanceof PtSetupError);
  r = setup({ ...BASE, TOR_PT_MANAGED_TRANSPORT_VER: "2,3" });
  assertEquals(r.lines, ["VERSION-ERROR no-version"]);
  r = setup({ TOR_PT_MANAGED_TRANSPORT_VER: "2,1" });
  assertEquals(r.lines, [
    "VERSION 1",
    "ENV-ERROR no TOR_PT_CLIENT_TRANSPORTS environment variable",
  ]);
  const info = parseClientEnv(env({ ...BASE, TOR_PT_EXIT_ON_STDIN_CLOSE: "0" }));
  assertEquals(info.exitOnStdinClose, false);
  assertEquals(info.stateLocation, null);
});

Deno.test("pt:client: TOR_PT_PROXY good forms", () => {
  assertEquals(parseProxyUri("socks5://198.51.100.7:1080"), {
    scheme: "socks5",
    hostname: "198.51.100.7",
    port: 1080,
    username: null,
    password: null,
  });
  assertEquals(parseProxyUri("socks5://us%3Aer:p%40ss@[2001:db8::1]:9050/"), {
    scheme: "socks5",
    hostname: "2001:db8::1",
    port: 9050,
    username: "us:er",
    password: "p@ss",
  });
  assertEquals(parseProxyUri("socks4a://who@127.0.0.1:1080").username, "who");
  assertEquals(parseProxyUri("HTTP://u:@10.0.0.1:3128").password, "");
  const { info, lines } = setup({ ...BASE, TOR_PT_PROXY: "http://10.0.0.1:3128" });
  assertEquals(lines, ["VERSION 1"]);
  assertEquals(info?.proxy?.port, 3128);
});

Deno.test("pt:client: TOR_PT_PROXY bad forms give PROXY-ERROR", () => {
  const bad = [
    "10.0.0.1:1080", // no scheme
    "ftp://10.0.0.1:21",
    "socks5://10.0.0.1", // no port
    "socks5://10.0.0.1:", // empty port
    "socks5://10.0.0.1:0",
    "socks5://10.0.0.1:65536",
    "socks5://proxy.example:1080", // not an IP
    "socks5://::1:1080", // IPv6 without brackets
    "socks5://10.0.0.1:1080?x=1",
    "socks5://10.0.0.1:1080#f",
    "http://10.0.0.1:3128/path",
    "socks4a://u:p@10.0.0.1:1080", // password in socks4a
    "socks5://u@10.0.0.1:1080", // socks5 needs both
    `socks5://${"u".repeat(256)}:p@10.0.0.1:1080`,
    "socks5://%zz:p@10.0.0.1:1080",
  ];
  for (const uri of bad) assertThrows(() => parseProxyUri(uri), PtProxyError, undefined);
  const r = setup({ ...BASE, TOR_PT_PROXY: "socks5://proxy.example:1080" });
  assertEquals(r.lines.length, 2);
  assertEquals(r.lines[0], "VERSION 1");
  assert(r.lines[1]!.startsWith("PROXY-ERROR "), r.lines[1]);
  assert(r.error instanceof PtProxyError);
});

const DENO = Deno.execPath();
const PT = new URL("../../tests/e2e/test_pt_client.ts", import.meta.url).pathname;

/** Runs the test client PT with `vars` and stdin closed at once; returns stdout and code. */
async function runPt(vars: Record<string, string>) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", PT, "--url", "ws://127.0.0.1:9/"],
    env: vars,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code: out.code, lines: new TextDecoder().decode(out.stdout).trim().split("\n") };
}

Deno.test("pt:client: the test PT prints CMETHOD lines and exits when stdin closes", async () => {
  const ok = await runPt({ ...BASE, TOR_PT_EXIT_ON_STDIN_CLOSE: "1" });
  assertEquals(ok.code, 0);
  assertEquals(ok.lines[0], "VERSION 1");
  assertEquals(ok.lines[1], "CMETHOD-ERROR obfs4 no such method");
  assert(/^CMETHOD snowflake socks5 127\.0\.0\.1:\d+$/.test(ok.lines[2]!), ok.lines[2]);
  assertEquals(ok.lines[3], "CMETHODS DONE");
  const bad = await runPt({ TOR_PT_MANAGED_TRANSPORT_VER: "7" });
  assertEquals(bad.code, 1);
  assertEquals(bad.lines, ["VERSION-ERROR no-version"]);
});
