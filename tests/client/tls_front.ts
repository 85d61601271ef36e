/**
 * Test fixtures for rendezvous over TLS: a throwaway CA and server certificate (openssl),
 * and a "front" that records, for each request, the TLS ClientHello's SNI (read off the
 * wire), the ALPN protocol, h2's `:authority` or HTTP/1.1's Host, any `host` field, and the
 * path.
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
  /** The protocol the TLS handshake agreed on by ALPN ("h2"); null: none (HTTP/1.1). */
  alpn: string | null;
  /** The `host` header field; over h2 null unless the client sent one beside `:authority`. */
  host: string | null;
  /** What the server routes by: h2's `:authority`, or HTTP/1.1's Host header. */
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

/** What a connection carried, by the local port of the hop that carries it on. */
type Seen = Map<number, { sni: string | null; alpn: string | null }>;

/**
 * Starts a TLS front on 127.0.0.1 whose requests are answered by `handler`; every request
 * is recorded with the SNI and ALPN protocol of its connection. Three hops, so that each
 * fact is read where it is plain: a TCP relay reads the SNI off the ClientHello, a TLS
 * terminator (h2, http/1.1) learns the ALPN protocol, and a cleartext Deno.serve (HTTP/1.1,
 * h2 with prior knowledge) reads the request's fields.
 */
export function startTlsFront(
  cert: TestCert,
  handler: (req: Request) => Response | Promise<Response>,
): Promise<TlsFront> {
  const records: FrontRecord[] = [];
  const sniByRelayPort = new Map<number, string | null>();
  const seen: Seen = new Map();
  const conns = new Set<Deno.Conn>();
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => {
      const url = new URL(req.url);
      const conn = seen.get(info.remoteAddr.port);
      records.push({
        sni: conn?.sni ?? null,
        alpn: conn?.alpn ?? null,
        host: req.headers.get("host"),
        authority: url.host,
        method: req.method,
        path: url.pathname,
      });
      return handler(req);
    },
  );
  const terminator = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.certPem,
    key: cert.keyPem,
    alpnProtocols: ["h2", "http/1.1"],
  });
  serveEach(terminator, conns, async (c) => {
    const { alpnProtocol } = await c.handshake();
    const up = await Deno.connect({ hostname: "127.0.0.1", port: backend.addr.port });
    conns.add(up);
    seen.set((up.localAddr as Deno.NetAddr).port, {
      sni: sniByRelayPort.get((c.remoteAddr as Deno.NetAddr).port) ?? null,
      alpn: alpnProtocol,
    });
    return up;
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  serveEach(listener, conns, async (c) => {
    let first = new Uint8Array(0);
    const reader = c.readable.getReader();
    while (first.length < 5 || first.length < 5 + ((first[3]! << 8) | first[4]!)) {
      const { value, done } = await reader.read();
      if (done) break;
      first = new Uint8Array([...first, ...value]);
    }
    reader.releaseLock();
    const up = await Deno.connect({ hostname: "127.0.0.1", port: terminator.addr.port });
    conns.add(up);
    sniByRelayPort.set((up.localAddr as Deno.NetAddr).port, clientHelloSni(first));
    const w = up.writable.getWriter();
    await w.write(first);
    w.releaseLock();
    return up;
  });
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    records,
    async close() {
      listener.close();
      terminator.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await backend.shutdown();
    },
  });
}

/** Accepts every connection of `listener`, and pipes it both ways to what `next` dials. */
function serveEach<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  conns: Set<Deno.Conn>,
  next: (c: C) => Promise<Deno.Conn>,
): void {
  (async () => {
    for await (const c of listener) {
      conns.add(c);
      (async () => {
        const up = await next(c);
        await Promise.race([c.readable.pipeTo(up.writable), up.readable.pipeTo(c.writable)])
          .catch(() => {});
      })().catch(() => {}).finally(() => {
        try {
          c.close();
        } catch { /* closed */ }
      });
    }
  })().catch(() => {});
}
