import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { readFull } from "../../lib/net/io.ts";
import {
  AUTH_COOKIE_HEADER,
  encodeExtOrCommand,
  EXTOR_OKAY,
  safeCookieHashes,
} from "../../lib/pt/extorport.ts";
import { goodEnv, smethodPort, spawnServer } from "./spawn.ts";
import { connectClient, echoThrough, startEcho } from "./ws_client.ts";
import { randomBytes } from "../../lib/testing/util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Runs the server until it exits by itself; returns stdout lines and the exit code. */
async function runToExit(env: Record<string, string>, args?: string[]) {
  const p = spawnServer(env, args);
  p.child.stdin.close();
  const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
  const status = await p.status;
  clearTimeout(timer);
  return { lines: p.lines, code: status.code, stderr: await p.stderr };
}

Deno.test(
  "pt:server: missing and malformed variables give the right lines and exit 1",
  opts,
  async () => {
    const base = goodEnv(9);
    const without = (k: string) => {
      const e = { ...base };
      delete e[k as keyof typeof e];
      return e;
    };
    const cases: [Record<string, string>, string[]][] = [
      [without("TOR_PT_MANAGED_TRANSPORT_VER"), [
        "ENV-ERROR no TOR_PT_MANAGED_TRANSPORT_VER environment variable",
      ]],
      [{ ...base, TOR_PT_MANAGED_TRANSPORT_VER: "2" }, ["VERSION-ERROR no-version"]],
      [without("TOR_PT_SERVER_BINDADDR"), [
        "VERSION 1",
        "ENV-ERROR no TOR_PT_SERVER_BINDADDR environment variable",
      ]],
      [without("TOR_PT_SERVER_TRANSPORTS"), [
        "VERSION 1",
        "ENV-ERROR no TOR_PT_SERVER_TRANSPORTS environment variable",
      ]],
      [{ ...base, TOR_PT_SERVER_BINDADDR: "snowflake127.0.0.1:1" }, [
        "VERSION 1",
        'ENV-ERROR TOR_PT_SERVER_BINDADDR: "snowflake127.0.0.1:1": doesn\'t contain "-"',
      ]],
      [{ ...base, TOR_PT_SERVER_TRANSPORT_OPTIONS: "snowflake:num-turbotunnel" }, [
        "VERSION 1",
        'ENV-ERROR TOR_PT_SERVER_TRANSPORT_OPTIONS: "snowflake:num-turbotunnel": no equals sign in "snowflake:num-turbotunnel"',
      ]],
      [without("TOR_PT_ORPORT"), [
        "VERSION 1",
        "ENV-ERROR need TOR_PT_ORPORT or TOR_PT_EXTENDED_SERVER_PORT environment variable",
      ]],
      [{ ...base, TOR_PT_ORPORT: "example.com:9001" }, [
        "VERSION 1",
        'ENV-ERROR cannot resolve TOR_PT_ORPORT "example.com:9001": not an IP string: "example.com"',
      ]],
      [{ ...base, TOR_PT_EXTENDED_SERVER_PORT: "127.0.0.1:9" }, [
        "VERSION 1",
        "ENV-ERROR need TOR_PT_AUTH_COOKIE_FILE environment variable with TOR_PT_EXTENDED_SERVER_PORT",
      ]],
    ];
    const results = await Promise.all(cases.map(([env]) => runToExit(env)));
    results.forEach((r, i) => {
      assertEquals(r.lines, cases[i]![1], `case ${i}`);
      assertEquals(r.code, 1, `case ${i} exit code`);
    });
  },
);

Deno.test("pt:server: flags: --version, and TLS without --acme-hostnames", opts, async () => {
  const [v, noHost] = await Promise.all([
    runToExit(goodEnv(9), ["--version"]),
    runToExit(goodEnv(9), []),
  ]);
  assertEquals(v.code, 0);
  assert(v.stderr.includes("snowflake-server "), v.stderr);
  assertEquals(v.lines, []);
  assertEquals(noHost.code, 1);
  assertEquals(noHost.lines, []);
  assert(noHost.stderr.includes("the --acme-hostnames option is required"), noHost.stderr);
});

Deno.test("pt:server: good environment prints SMETHOD lines; SIGTERM exits 0", opts, async () => {
  const p = spawnServer(goodEnv(9, {
    TOR_PT_SERVER_TRANSPORTS: "*",
    TOR_PT_SERVER_BINDADDR: "obfs4-127.0.0.1:0,snowflake-127.0.0.1:0",
  }));
  try {
    const lines = await p.waitFor(/^SMETHODS DONE$/);
    assertEquals(lines[0], "VERSION 1");
    assertEquals(lines[1], "SMETHOD-ERROR obfs4 no such method");
    assert(/^SMETHOD snowflake 127\.0\.0\.1:\d+ ARGS:tls=no$/.test(lines[2]!), lines[2]);
    assertEquals(lines[3], "SMETHODS DONE");
    p.kill("SIGTERM");
    assertEquals((await p.status).code, 0);
    assert((await p.stderr).includes("caught signal SIGTERM"));
  } finally {
    p.kill("SIGKILL");
  }
});

Deno.test(
  "pt:server: with Workers, a second server on a taken port fails as without",
  opts,
  async () => {
    const workers = { TOR_PT_SERVER_TRANSPORT_OPTIONS: "snowflake:num-turbotunnel=2" };
    const first = spawnServer(goodEnv(9, workers));
    let second: ReturnType<typeof spawnServer> | undefined;
    try {
      const port = smethodPort(await first.waitFor(/^SMETHODS DONE$/));
      second = spawnServer(goodEnv(9, {
        ...workers,
        TOR_PT_SERVER_BINDADDR: `snowflake-127.0.0.1:${port}`,
      }));
      assertEquals(await second.waitFor(/^SMETHODS DONE$/), [
        "VERSION 1",
        `SMETHOD-ERROR snowflake listen EADDRINUSE: address already in use 127.0.0.1:${port}`,
        "SMETHODS DONE",
      ]);
    } finally {
      for (const p of [first, second]) p?.kill("SIGKILL");
      await Promise.all([first.status, second?.status]);
    }
  },
);

Deno.test("pt:server: bad transport options give SMETHOD-ERROR", opts, async () => {
  const cases: [string, string][] = [
    [
      "snowflake:num-turbotunnel=0",
      "SMETHOD-ERROR snowflake parsing num-turbotunnel: cannot be less than 1",
    ],
    [
      "snowflake:num-turbotunnel=x",
      'SMETHOD-ERROR snowflake parsing num-turbotunnel: strconv.Atoi: parsing "x": invalid syntax',
    ],
    [
      "snowflake:orport-srcaddr=127.0.0.300",
      'SMETHOD-ERROR snowflake parsing srcaddr: invalid IP address or CIDR "127.0.0.300"',
    ],
    [
      "snowflake:orport-srcaddr=127.0.0.0/33",
      'SMETHOD-ERROR snowflake parsing srcaddr: invalid CIDR prefix in "127.0.0.0/33"',
    ],
  ];
  const procs = cases.map(([o]) => spawnServer(goodEnv(9, { TOR_PT_SERVER_TRANSPORT_OPTIONS: o })));
  try {
    for (const [i, p] of procs.entries()) {
      const lines = await p.waitFor(/^SMETHODS DONE$/);
      assertEquals(lines, ["VERSION 1", cases[i]![1], "SMETHODS DONE"]);
    }
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.status));
  }
});

Deno.test(
  "pt:server: stdin close makes it exit when TOR_PT_EXIT_ON_STDIN_CLOSE=1",
  opts,
  async () => {
    const p = spawnServer(goodEnv(9, { TOR_PT_EXIT_ON_STDIN_CLOSE: "1" }));
    try {
      await p.waitFor(/^SMETHODS DONE$/);
      await p.child.stdin.close();
      assertEquals((await p.status).code, 0);
      assert((await p.stderr).includes("stdin close"));
    } finally {
      p.kill("SIGKILL");
    }
  },
);

for (const workers of [1, 4]) {
  // With 4 Workers, 6 clients: most carriers land on a Worker that does not own their
  // ClientID, whose owner must still send their client_ip.
  const clients = workers === 1 ? 1 : 6;
  const where = workers === 1 ? "" : `, ${clients} clients over ${workers} Workers`;
  Deno.test(
    `pt:server: streams reach a fake ExtORPort with SAFE_COOKIE, USERADDR from client_ip and TRANSPORT${where}`,
    opts,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "server-pt-" });
      const cookie = crypto.getRandomValues(new Uint8Array(32));
      await Deno.writeFile(`${dir}/cookie`, new Uint8Array([...AUTH_COOKIE_HEADER, ...cookie]));
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const seen: string[][] = [];
      const serve = async (c: Deno.Conn) => {
        await c.write(new Uint8Array([1, 0]));
        await readFull(c, 1);
        const cn = await readFull(c, 32);
        const sn = crypto.getRandomValues(new Uint8Array(32));
        const h = await safeCookieHashes(cookie, cn, sn);
        await c.write(new Uint8Array([...h.serverHash, ...sn]));
        const ch = await readFull(c, 32);
        await c.write(new Uint8Array([ch.every((b, i) => b === h.clientHash[i]) ? 1 : 0]));
        const commands: string[] = [];
        for (;;) {
          const hdr = await readFull(c, 4);
          const body = new TextDecoder().decode(await readFull(c, (hdr[2]! << 8) | hdr[3]!));
          commands.push(`${(hdr[0]! << 8) | hdr[1]!}:${body}`);
          if (hdr[1] === 0 && hdr[0] === 0) break;
        }
        seen.push(commands);
        await c.write(encodeExtOrCommand(EXTOR_OKAY));
        // Then behave as an echo ORPort.
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          await c.write(buf.subarray(0, n));
        }
        await c.closeWrite();
        c.close();
      };
      const fake = (async () => {
        const served: Promise<void>[] = [];
        for (let i = 0; i < clients; i++) served.push(serve(await l.accept()));
        l.close();
        await Promise.all(served);
      })().catch((e) => e);
      const p = spawnServer({
        ...goodEnv(9, { TOR_PT_SERVER_TRANSPORT_OPTIONS: `snowflake:num-turbotunnel=${workers}` }),
        TOR_PT_ORPORT: "",
        TOR_PT_EXTENDED_SERVER_PORT: `127.0.0.1:${(l.addr as Deno.NetAddr).port}`,
        TOR_PT_AUTH_COOKIE_FILE: `${dir}/cookie`,
      });
      try {
        const port = smethodPort(await p.waitFor(/^SMETHODS DONE$/));
        const ips = Array.from({ length: clients }, (_, i) => `2001:db8::${i + 7}`);
        await Promise.all(ips.map(async (ip) => {
          const client = await connectClient(`ws://127.0.0.1:${port}/?client_ip=${ip}`);
          const data = randomBytes(100_000);
          assertEquals(await echoThrough(client, data), data);
          client.close();
        }));
        assertEquals(await fake, undefined);
        assertEquals(
          seen.sort(),
          ips.map((ip) => [`1:[${ip}]:1`, "2:snowflake", "0:"]).sort(),
        );
      } finally {
        p.kill("SIGKILL");
        await p.status;
        try {
          l.close();
        } catch { /* closed after accept */ }
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

Deno.test(
  "pt:server: num-turbotunnel=2 and orport-srcaddr serve many clients through the ORPort",
  opts,
  async () => {
    const echo = startEcho();
    const p = spawnServer(goodEnv(echo.port, {
      TOR_PT_SERVER_TRANSPORT_OPTIONS:
        "snowflake:num-turbotunnel=2;snowflake:orport-srcaddr=127.0.3.0/24",
    }));
    try {
      const port = smethodPort(await p.waitFor(/^SMETHODS DONE$/));
      const clients = await Promise.all(
        Array.from({ length: 8 }, () => connectClient(`ws://127.0.0.1:${port}/`)),
      );
      await Promise.all(clients.map(async (c) => {
        const data = randomBytes(50_000);
        assertEquals(await echoThrough(c, data), data);
        c.close();
      }));
      assertEquals(echo.connections, 8);
      assertEquals(echo.sources.size > 1, true, `sources ${[...echo.sources]}`);
      for (const s of echo.sources) assert(s.startsWith("127.0.3."), s);
    } finally {
      p.kill("SIGKILL");
      await p.status;
      echo.close();
    }
  },
);
