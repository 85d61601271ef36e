/**
 * Test fixtures for rendezvous over TLS: a throwaway CA and server certificate (openssl),
 * and a "front": a TCP relay that reads the TLS ClientHello's SNI off the wire, in front of
 * a Deno.serve TLS server (HTTP/1.1 and h2) that records each request's Host header,
 * `:authority` and path.
 *
 * @module
 */

/** A CA and a server certificate for `names`. */
export interface TestCert {
  caPem: string;
  certPem: string;
  keyPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Makes a CA and a certificate valid for the DNS `names` (and 127.0.0.1). */
export async function makeCert(names: string[]): Promise<TestCert> {
  const dir = await Deno.makeTempDir({ prefix: "sfclient-cert-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=sfclient test CA",
    ], dir);
    await openssl([
      "req",
      ...ec,
      "-keyout",
      "key.pem",
      "-out",
      "req.csr",
      "-subj",
      `/CN=${names[0]}`,
    ], dir);
    const san = [...names.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",");
    await Deno.writeTextFile(`${dir}/ext`, `subjectAltName=${san}\n`);
    await openssl([
      "x509",
      "-req",
      "-in",
      "req.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "cert.pem",
      "-days",
      "2",
      "-extfile",
      "ext",
    ], dir);
    return {
      caPem: await Deno.readTextFile(`${dir}/ca.pem`),
      certPem: await Deno.readTextFile(`${dir}/cert.pem`),
      keyPem: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The server_name of a TLS ClientHello record (RFC 8446 §4.1.2, RFC 6066 §3); null when the
 * record is incomplete or has no SNI.
 */
export function clientHelloSni(b: Uint8Array): string | null {
  if (b.length < 5 || b[0] !== 0x16) return null;
  const recLen = (b[3]! << 8) | b[4]!;
  if (b.length < 5 + recLen || b[5] !== 0x01) return null;
  let p = 5 + 4 + 2 + 32; // record header, handshake header, version, random
  p += 1 + b[p]!; // session id
  p += 2 + ((b[p]! << 8) | b[p + 1]!); // cipher suites
  p += 1 + b[p]!; // compression methods
  const end = p + 2 + ((b[p]! << 8) | b[p + 1]!);
  p += 2;
  while (p + 4 <= end) {
    const type = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    if (type === 0) {
      const nameLen = (b[p + 7]! << 8) | b[p + 8]!;
      return new TextDecoder().decode(b.subarray(p + 9, p + 9 + nameLen));
    }
    p += 4 + len;
  }
  return null;
}

/** One request the front saw. */
export interface FrontRecord {
  sni: string | null;
  host: string | null;
  /** HTTP/2's `:authority` (Deno.serve's URL host); over HTTP/1.1 the Host header again. */
  authority: string;
  method: string;
  path: string;
}

/** A running front. */
export interface TlsFront {
  port: number;
  records: FrontRecord[];
  close(): Promise<void>;
}

/**
 * Starts a TLS front on 127.0.0.1 whose requests are answered by `handler`; every request
 * is recorded with the SNI its connection carried.
 */
export function startTlsFront(
  cert: TestCert,
  handler: (req: Request) => Response | Promise<Response>,
): Promise<TlsFront> {
  const records: FrontRecord[] = [];
  const pendingSni: (string | null)[] = [];
  const backend = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.certPem,
    key: cert.keyPem,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    records.push({
      sni: pendingSni.shift() ?? null,
      host: req.headers.get("host"),
      authority: url.host,
      method: req.method,
      path: url.pathname,
    });
    return await handler(req);
  });
  const backendPort = backend.addr.port;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const c of listener) {
      conns.add(c);
      (async () => {
        const up = await Deno.connect({ hostname: "127.0.0.1", port: backendPort });
        conns.add(up);
        let first = new Uint8Array(0);
        const reader = c.readable.getReader();
        while (first.length < 5 || first.length < 5 + ((first[3]! << 8) | first[4]!)) {
          const { value, done } = await reader.read();
          if (done) break;
          first = new Uint8Array([...first, ...value]);
        }
        pendingSni.push(clientHelloSni(first));
        reader.releaseLock();
        const w = up.writable.getWriter();
        await w.write(first);
        w.releaseLock();
        await Promise.race([c.readable.pipeTo(up.writable), up.readable.pipeTo(c.writable)])
          .catch(() => {});
      })().catch(() => {}).finally(() => {
        for (const x of [c]) {
          try {
            x.close();
          } catch { /* closed */ }
        }
      });
    }
  })().catch(() => {});
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    records,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await backend.shutdown();
    },
  });
}
