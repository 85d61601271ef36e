/**
 * `acme:` the server and the broker, under their binaries' flags and a clean environment, get
 * a certificate from an ACME server they trust the way an operator trusts a public CA: through
 * the process's own trust (DENO_CERT, NODE_EXTRA_CA_CERTS), not `--acme-ca-cert`. Deno's
 * `node:https` asks for the `sys` permission "ca", which no binary has, whenever
 * NODE_EXTRA_CA_CERTS is set and a request carries no CA of its own.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { makeCert } from "../client/tls_front.ts";
import { Binary } from "../delivery/binary.ts";
import { startPebble } from "./pebble.ts";
import { servedSerial } from "./wss.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** How the ACME server's CA (`ca`) is trusted; `other` is an unrelated CA's file. */
const ROUTES: { name: string; env: (ca: string, other: string) => Record<string, string> }[] = [
  { name: "DENO_CERT", env: (ca) => ({ DENO_CERT: ca }) },
  {
    name: "DENO_CERT, with NODE_EXTRA_CA_CERTS naming another CA",
    env: (ca, other) => ({ DENO_CERT: ca, NODE_EXTRA_CA_CERTS: other }),
  },
  { name: "NODE_EXTRA_CA_CERTS", env: (ca) => ({ NODE_EXTRA_CA_CERTS: ca }) },
];

function notCapable(b: Binary): void {
  assertEquals(/NotCapable|Requires \w+ access/.test(b.stderr), false, b.stderr);
}

async function serverGetsCert(
  pebble: { directoryUrl: string; challengePort: number },
  dir: string,
  trust: Record<string, string>,
  root: () => Promise<string>,
): Promise<void> {
  const server = Binary.start("server", [
    "--acme-hostnames",
    "localhost",
    "--acme-directory-url",
    pebble.directoryUrl,
    "--acme-http-port",
    String(pebble.challengePort),
  ], {
    env: {
      TOR_PT_MANAGED_TRANSPORT_VER: "1",
      TOR_PT_SERVER_TRANSPORTS: "snowflake",
      TOR_PT_SERVER_BINDADDR: "snowflake-127.0.0.1:0",
      TOR_PT_ORPORT: "127.0.0.1:9",
      TOR_PT_STATE_LOCATION: `${dir}/pt_state/`,
      ...trust,
    },
    stdin: "piped",
  });
  try {
    await server.waitFor(/^SMETHODS DONE$/m);
    const [, port] = server.stdout.match(/^SMETHOD snowflake 127\.0\.0\.1:(\d+) .*tls=yes/m) ??
      [];
    assert(port, `${server.stdout}\n${server.stderr}`);
    assert(/^[0-9a-f]+$/i.test(await servedSerial(Number(port), "localhost", await root())));
  } finally {
    await server.stop();
  }
  notCapable(server);
}

async function brokerGetsCert(
  pebble: { directoryUrl: string; challengePort: number },
  dir: string,
  trust: Record<string, string>,
  root: () => Promise<string>,
): Promise<void> {
  const port = freeTcpPort();
  const broker = Binary.start("broker-proxy", [
    "broker",
    "--addr",
    `localhost:${port}`,
    "--acme-hostnames",
    "localhost",
    "--acme-cert-cache",
    `${dir}/broker-cache`,
    "--acme-directory-url",
    pebble.directoryUrl,
    "--acme-http-port",
    String(pebble.challengePort),
  ], { env: trust });
  try {
    await broker.waitFor(/listening on https:/);
    const client = Deno.createHttpClient({ caCerts: [await root()] });
    try {
      const res = await fetch(`https://localhost:${port}/debug`, { client } as RequestInit);
      assert((await res.text()).startsWith("current snowflakes available: 0"));
    } finally {
      client.close();
    }
  } finally {
    await broker.stop();
  }
  notCapable(broker);
}

for (const route of ROUTES) {
  Deno.test(
    `acme: server and broker under their flags get a certificate from a CA trusted by ${route.name}`,
    opts,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "acme-trust-" });
      const pebble = await startPebble({ challengePort: freeTcpPort() });
      try {
        const ca = pebble.caCertFile;
        const other = `${dir}/other-ca.pem`;
        await Deno.writeTextFile(other, (await makeCert(["other.test"])).caPem);
        const trust = route.env(ca, other);
        const root = () => pebble.issuingRoot();
        await serverGetsCert(pebble, dir, trust, root);
        await brokerGetsCert(pebble, dir, trust, root);
      } finally {
        await pebble.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  );
}
