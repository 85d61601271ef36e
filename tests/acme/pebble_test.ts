import {
  AcmeCertManager,
  type CachedCert,
  readCertInfo,
  ReloadableTlsServer,
} from "../../lib/acme/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "../../lib/testing/assert.ts";
import { startPebble } from "./pebble.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { echoHandler, openWss, servedSerial } from "./wss.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const NAMES = ["localhost", "snow.test"];

function logger(lines: string[]): Logger {
  return new Logger({ write: (l) => lines.push(l) });
}

/** A wss echo server on 127.0.0.1 with `cert`, on a port of the kernel's choice. */
function echoServer(cert: CachedCert): ReloadableTlsServer {
  return new ReloadableTlsServer({
    port: 0,
    hostname: "127.0.0.1",
    cert: cert.certPem,
    key: cert.keyPem,
    handler: echoHandler,
  });
}

async function stopAll(
  manager: AcmeCertManager,
  pebble: { stop(): Promise<void> },
  server?: ReloadableTlsServer,
): Promise<void> {
  await manager.close();
  await server?.shutdown();
  await pebble.stop();
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "acme-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test(
  "acme: obtains a certificate over HTTP-01 from pebble, serves wss with it, restart reuses the cache",
  opts,
  async () => {
    await withTemp(async (tmp) => {
      const challengePort = freeTcpPort();
      const pebble = await startPebble({ challengePort });
      const cacheDir = `${tmp}/snowflake-certificate-cache`;
      const lines: string[] = [];
      // Outlives pebble's own files, which go when pebble stops.
      const caCertFile = `${tmp}/pebble-ca.pem`;
      const make = () =>
        new AcmeCertManager({
          directoryUrl: pebble.directoryUrl,
          hostnames: NAMES,
          email: "ops@snow.test",
          cacheDir,
          httpPort: challengePort,
          httpHostname: "127.0.0.1",
          caCertFile,
          log: logger(lines),
        });
      let manager = make();
      let server: ReloadableTlsServer | undefined;
      try {
        await Deno.copyFile(pebble.caCertFile, caCertFile);
        await manager.start();
        const first = manager.current();
        const info = readCertInfo(first.certPem);
        assertEquals(info.dnsNames.sort(), [...NAMES].sort());
        assert(
          lines.some((l) => l.includes("HTTP-01 challenge for snow.test passed")),
          lines.join("\n"),
        );
        assertEquals((await Deno.stat(cacheDir)).mode! & 0o777, 0o700);
        for await (const e of Deno.readDir(cacheDir)) {
          assertEquals((await Deno.stat(`${cacheDir}/${e.name}`)).mode! & 0o777, 0o600, e.name);
        }

        server = echoServer(first);
        const root = await pebble.issuingRoot();
        const conn = await openWss(`wss://localhost:${server.addr.port}/`, root);
        try {
          assertEquals(await conn.echo("hello over acme"), "hello over acme");
        } finally {
          conn.close();
        }
        // A client that does not trust pebble's root must fail the handshake.
        await assertRejects(() =>
          openWss(`wss://localhost:${server!.addr.port}/`, pebble.caCertFile)
        );

        // Restart with pebble gone: the cached certificate is loaded without any ACME request.
        await manager.close();
        await pebble.stop();
        lines.length = 0;
        manager = make();
        await manager.start();
        assertEquals(manager.current(), first);
        assert(lines.some((l) => l.includes("using cached certificate")), lines.join("\n"));
      } finally {
        await stopAll(manager, pebble, server);
      }
    });
  },
);

Deno.test(
  "acme: renews a short-lived certificate, fires onRenew, and wss keeps serving without restart",
  opts,
  async () => {
    await withTemp(async (cacheDir) => {
      const challengePort = freeTcpPort();
      const pebble = await startPebble({ challengePort, validitySeconds: 7 });
      const lines: string[] = [];
      const manager = new AcmeCertManager({
        directoryUrl: pebble.directoryUrl,
        hostnames: NAMES,
        cacheDir,
        httpPort: challengePort,
        httpHostname: "127.0.0.1",
        caCertFile: pebble.caCertFile,
        log: logger(lines),
        // Longer than the lifetime: renewal still waits for a third of it, no tight loop.
        renewBeforeMs: 60_000,
      });
      let server: ReloadableTlsServer | undefined;
      try {
        await manager.start();
        const first = manager.current();
        const root = await pebble.issuingRoot();
        server = echoServer(first);
        const port = server.addr.port;
        const before = await openWss(`wss://localhost:${port}/`, root);
        const renewed: CachedCert[] = [];
        const twice = Promise.withResolvers<void>();
        manager.onRenew((cert) => {
          renewed.push(cert);
          server!.reload(cert.certPem, cert.keyPem);
          if (renewed.length === 2) twice.resolve();
        });
        const timer = setTimeout(
          () => twice.reject(new Error(`no second renewal within 30 s:\n${lines.join("\n")}`)),
          30_000,
        );
        await twice.promise.finally(() => clearTimeout(timer));
        await manager.close();

        const serials = [first, ...renewed].map((c) => readCertInfo(c.certPem).serialNumber);
        assertEquals(new Set(serials).size, 3, `serials ${serials}`);
        assertNotEquals(renewed[1]!.keyPem, first.keyPem);
        assertEquals(await servedSerial(port, "localhost", root), serials[2]);
        const after = await openWss(`wss://localhost:${port}/`, root);
        try {
          assertEquals(await after.echo("after renewal"), "after renewal");
          // Deno.serve cannot swap certificates: reload() closes what the old listener held.
          await before.closed;
        } finally {
          after.close();
          before.close();
        }
        assertEquals(lines.filter((l) => l.includes("renewing certificate")).length, 2);
      } finally {
        await stopAll(manager, pebble, server);
      }
    });
  },
);

Deno.test(
  "acme: a failed HTTP-01 challenge fails start with the name, the URL and pebble's reason",
  opts,
  async () => {
    await withTemp(async (cacheDir) => {
      // Pebble's VA checks a port nobody answers on; the manager listens elsewhere.
      const pebble = await startPebble({ challengePort: freeTcpPort() });
      const manager = new AcmeCertManager({
        directoryUrl: pebble.directoryUrl,
        hostnames: ["snow.test"],
        cacheDir,
        httpPort: 0,
        httpHostname: "127.0.0.1",
        caCertFile: pebble.caCertFile,
        startAttempts: 1,
      });
      try {
        const e = await assertRejects(
          () => manager.start(),
          Error,
          "HTTP-01 challenge for snow.test",
        );
        assert(e.message.includes(pebble.directoryUrl), e.message);
        assert(/connection refused/i.test(e.message), e.message);
      } finally {
        await stopAll(manager, pebble);
      }
    });
  },
);
