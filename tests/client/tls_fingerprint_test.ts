/**
 * `tls-fingerprint:` with `--impersonate-profile chrome` the client's rendezvous sends
 * Chrome's ClientHello: without a front impit's (h2), with one wreq-js's for HTTP/1.1 alone.
 * tshark captures it and Debian's Chromium's for the same local TLS server on this machine
 * (a page fetch; for the fronted one, the WebSocket Chromium opens, its HTTP/1.1-only
 * connection); cipher suites, supported groups, key shares, signature algorithms, ALPN and
 * versions must be equal, and the extension types equal as sets: GREASE values (RFC 8701) are
 * left out, and so is the extension order, which Chrome shuffles on every connection. What
 * still differs is listed in {@link KNOWN} and printed (README "TLS fingerprint"). Needs root
 * (the capture), tshark and chromium (tools/setup.sh).
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CHROMIUM } from "../web_proxy/has_chromium.ts";
import { captureLoopback, type ClientHello, hex } from "./client_hello.ts";
import { exchange, until, withClient } from "./standalone_client.ts";
import { makeCert, startTlsFront } from "./tls_front.ts";

/** What Chromium 156 sends that a library's Chrome profile does not. */
interface Known {
  /** Extensions: 0xca34 (51764), not in tshark 4.0's registry (we take it for the TLS Trust
   * Anchor Identifiers draft's), is in neither impit's `chrome151` nor wreq-js's. */
  extensions: number[];
  /** Signature algorithms: wreq-js's BoringSSL has no ML-DSA (0x0904–0x0906). */
  sigAlgs: number[];
}

const KNOWN: Record<"impit" | "wreq", Known> = {
  impit: { extensions: [0xca34], sigAlgs: [] },
  wreq: { extensions: [0xca34], sigAlgs: [0x0904, 0x0905, 0x0906] },
};

/**
 * Chromium loads https://chromium.test:port/ from `port` (mapped to 127.0.0.1, like
 * ws.test for the page's WebSocket).
 */
async function chromiumLoad(port: number): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "sfclient-chromium-" });
  try {
    await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--ignore-certificate-errors",
        `--user-data-dir=${profile}`,
        "--host-resolver-rules=MAP chromium.test 127.0.0.1, MAP ws.test 127.0.0.1",
        // Lets the page's WebSocket connect before the DOM is dumped.
        "--virtual-time-budget=3000",
        "--dump-dom",
        `https://chromium.test:${port}/`,
      ],
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(90_000),
    }).output();
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/** The front's answers: Chromium's page opens a WebSocket to ws.test; the rest gets 503. */
function page(req: Request): Response {
  const url = new URL(req.url);
  if (url.hostname !== "chromium.test" || url.pathname !== "/") {
    return new Response("", { status: 503 });
  }
  const script = `new WebSocket("wss://ws.test:" + location.port + "/ws")`;
  return new Response(`<html><body><script>${script}</script></body></html>`, {
    headers: { "content-type": "text/html" },
  });
}

function show(who: string, h: ClientHello): void {
  console.log(`${who} (SNI ${h.sni}):`);
  console.log(`  cipher suites   ${hex(h.ciphers)}`);
  console.log(`  extensions      ${h.extensions.join(",")}`);
  console.log(`  groups          ${hex(h.groups)}`);
  console.log(`  key shares      ${hex(h.keyShares)}`);
  console.log(`  signature algs  ${hex(h.sigAlgs)}`);
  console.log(`  ALPN            ${h.alpn.join(",")}`);
  console.log(`  versions        ${hex(h.versions)}`);
  console.log(`  GREASE values   ${JSON.stringify(h.grease)}`);
}

/** Prints both and asserts they are equal but for what is `known`. */
function compare(ours: ClientHello, chromium: ClientHello, known: Known): void {
  const missing = chromium.extensions.filter((e) => !ours.extensions.includes(e));
  const extra = ours.extensions.filter((e) => !chromium.extensions.includes(e));
  console.log(`extensions only Chromium sends: ${missing.join(",") || "none"}`);
  console.log(`extensions only we send: ${extra.join(",") || "none"}`);
  for (const field of Object.keys(chromium.grease)) {
    const a = ours.grease[field], b = chromium.grease[field];
    if (a !== b) console.log(`GREASE in ${field}: ours ${a}, Chromium ${b}`);
  }
  assertEquals(hex(ours.ciphers), hex(chromium.ciphers), "cipher suites");
  assertEquals(hex(ours.groups), hex(chromium.groups), "supported groups");
  assertEquals(hex(ours.keyShares), hex(chromium.keyShares), "key shares");
  assertEquals(
    hex(ours.sigAlgs),
    hex(chromium.sigAlgs.filter((a) => !known.sigAlgs.includes(a))),
    "signature algorithms",
  );
  assertEquals(ours.alpn, chromium.alpn, "ALPN");
  assertEquals(hex(ours.versions), hex(chromium.versions), "supported versions");
  assertEquals(extra, [], "extensions Chromium does not send");
  assertEquals(missing, known.extensions, "extensions of Chromium's that we lack");
}

/**
 * Runs the client with `flags` against a front on loopback, and Chromium against the same;
 * returns the ClientHellos tshark saw, by SNI.
 */
async function capture(
  flags: string[],
  broker: (port: number) => string,
  logSays: RegExp,
): Promise<Map<string, ClientHello>> {
  const cert = await makeCert(["localhost", "broker.example", "chromium.test", "ws.test"]);
  const caFile = await Deno.makeTempFile({ prefix: "sfclient-ca-", suffix: ".pem" });
  await Deno.writeTextFile(caFile, cert.caPem);
  const front = await startTlsFront(cert, page);
  try {
    const tshark = await captureLoopback(front.port);
    await withClient(
      [...flags, "--unsafe-logging"],
      async (port, log) => {
        await exchange(port, [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        await until(() => front.records.some((r) => r.path === "/client"));
        assert(logSays.test(log()), log());
      },
      { url: broker(front.port), env: { SSL_CERT_FILE: caFile } },
    );
    await chromiumLoad(front.port);
    return await tshark.stop();
  } finally {
    await front.close();
    await Deno.remove(caFile);
  }
}

const root = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "tls-fingerprint: the client's rendezvous ClientHello is Chromium's (tshark)",
  ...root,
}, async () => {
  const hellos = await capture(
    ["--impersonate-profile", "chrome"],
    (port) => `https://localhost:${port}/`,
    /rendezvous TLS fingerprint: impit chrome151/,
  );
  const ours = hellos.get("localhost");
  const chromium = hellos.get("chromium.test");
  assert(ours && chromium, `ClientHellos seen: ${[...hellos.keys()].join(", ")}`);
  show("our client (impit chrome151)", ours);
  show("Debian's Chromium", chromium);
  compare(ours, chromium, KNOWN.impit);
});

Deno.test({
  name: "tls-fingerprint: the fronted rendezvous ClientHello is Chromium's for HTTP/1.1 (tshark)",
  ...root,
}, async () => {
  const hellos = await capture(
    ["--impersonate-profile", "chrome", "--front", "localhost"],
    (port) => `https://broker.example:${port}/`,
    /rendezvous TLS fingerprint: wreq-js chrome, HTTP\/1\.1/,
  );
  const ours = hellos.get("localhost");
  const chromium = hellos.get("ws.test");
  assert(ours && chromium, `ClientHellos seen: ${[...hellos.keys()].join(", ")}`);
  show("our client, fronted (wreq-js chrome, HTTP/1.1)", ours);
  show("Debian's Chromium, its WebSocket", chromium);
  assertEquals(ours.alpn, ["http/1.1"]);
  compare(ours, chromium, KNOWN.wreq);
});

Deno.test("tls-fingerprint: a profile impit lacks logs the documented warning", async () => {
  // The bridge-line form, as SOCKS credentials.
  await withClient([], async (port, log) => {
    const user = [...new TextEncoder().encode("utls-imitate=helloios_auto")];
    await exchange(port, [5, 1, 2, 1, user.length, ...user, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
    await until(() => /WARNING: no browser TLS fingerprint for helloios_auto/.test(log()));
    assert(/uses Deno's own TLS \(rustls\) fingerprint/.test(log()), log());
  });
});
