/**
 * A small HTTP/1.1 server for the broker. The broker's cost is its held proxy polls, and
 * `Deno.serve` keeps ~25 KB of state per pending request; a plain TCP (or TLS) connection with
 * this parser keeps about half that (docs/BROKER.md, "Memory"). It serves what rendezvous
 * needs: keep-alive, `Content-Length` and chunked request bodies up to a limit,
 * `Expect: 100-continue`, a head deadline against slow clients, and an AbortSignal that fires
 * when the peer disconnects while its request is held. Handlers get a small {@link HttpRequest}
 * (a web `Request` per held poll would cost ~15 KB more) and return a web `Response`.
 *
 * @module
 */

export interface Http1Options {
  /** Largest request body; a larger one gets 400 (as the Go broker) and the connection closes. */
  maxBodyBytes: number;
  /** Largest request line + headers. Default 16 KiB. */
  maxHeadBytes?: number;
  /** How long a kept-alive connection may wait for its next request. Default 90 s. */
  idleTimeoutMs?: number;
  /** How long a request's head and body may take once its first byte arrived. Default 10 s. */
  requestTimeoutMs?: number;
  onError?: (e: unknown) => void;
}

/** A request as the handler sees it: the body is read (and limited) already. */
export interface HttpRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly target: string;
  /** The body, decoded as UTF-8. */
  readonly body: string;
  /** Fires when the peer disconnects before the response. */
  readonly signal: AbortSignal;
  /** A header's value (the first, if repeated), or null. */
  header(name: string): string | null;
}

export type Http1Handler = (req: HttpRequest, remoteIp: string) => Promise<Response>;

const CRLF2 = new Uint8Array([13, 10, 13, 10]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Buffered reads on a connection; at most one read is in flight, shared by its callers. */
class ConnReader {
  #conn: Deno.Conn;
  #data: Uint8Array = new Uint8Array(0);
  #pending: Promise<boolean> | null = null;
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get buffered(): Uint8Array {
    return this.#data;
  }

  get eof(): boolean {
    return this.#eof;
  }

  /** Reads more bytes; false at EOF or on a read error. */
  fill(): Promise<boolean> {
    this.#pending ??= (async () => {
      const buf = new Uint8Array(1024);
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        n = null;
      }
      this.#pending = null;
      if (n === null) {
        this.#eof = true;
        return false;
      }
      const merged = new Uint8Array(this.#data.length + n);
      merged.set(this.#data);
      merged.set(buf.subarray(0, n), this.#data.length);
      this.#data = merged;
      return true;
    })();
    return this.#pending;
  }

  consume(n: number): Uint8Array {
    const out = this.#data.subarray(0, n);
    this.#data = this.#data.subarray(n);
    return out;
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function deadline<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new HttpError(408, "request timeout"));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface Head {
  method: string;
  target: string;
  version: string;
  /** [lower-case name, value] pairs. */
  headers: [string, string][];
}

function header(head: Head, name: string): string | null {
  for (const [k, v] of head.headers) if (k === name) return v;
  return null;
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0]!);
  if (!m) throw new HttpError(400, "bad request line");
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) {
      throw new HttpError(400, "bad header line");
    }
    headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { method: m[1]!, target: m[2]!, version: m[3]!, headers };
}

async function readHead(r: ConnReader, maxHeadBytes: number): Promise<Head | null> {
  for (;;) {
    const end = indexOf(r.buffered, CRLF2);
    if (end >= 0) return parseHead(decoder.decode(r.consume(end + 4)).slice(0, -4));
    if (r.buffered.length > maxHeadBytes) throw new HttpError(431, "request head too large");
    if (!await r.fill()) {
      if (r.buffered.length === 0) return null;
      throw new HttpError(400, "connection closed inside a request head");
    }
  }
}

async function readExactly(r: ConnReader, n: number): Promise<Uint8Array<ArrayBuffer>> {
  while (r.buffered.length < n) {
    if (!await r.fill()) throw new HttpError(400, "connection closed inside a request body");
  }
  return r.consume(n).slice();
}

async function readLine(r: ConnReader): Promise<string> {
  for (;;) {
    const i = indexOf(r.buffered, CRLF2.subarray(0, 2));
    if (i >= 0) return decoder.decode(r.consume(i + 2)).slice(0, -2);
    if (r.buffered.length > 1024) throw new HttpError(400, "chunk line too long");
    if (!await r.fill()) throw new HttpError(400, "connection closed inside a chunked body");
  }
}

async function readChunked(r: ConnReader, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const size = parseInt((await readLine(r)).split(";")[0]!, 16);
    if (!Number.isFinite(size) || size < 0) throw new HttpError(400, "bad chunk size");
    if (size === 0) break;
    total += size;
    if (total > max) throw new HttpError(400, "request body too large");
    parts.push(await readExactly(r, size));
    await readLine(r);
  }
  while ((await readLine(r)) !== "") { /* trailers */ }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  404: "Not Found",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

async function writeResponse(
  conn: Deno.Conn,
  res: Response,
  head: boolean,
  close: boolean,
): Promise<void> {
  const body = new Uint8Array(await res.arrayBuffer());
  let text = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
  for (const [k, v] of res.headers) {
    if (k !== "content-length" && k !== "connection") text += `${k}: ${v}\r\n`;
  }
  text += `content-length: ${body.length}\r\n`;
  if (close) text += "connection: close\r\n";
  text += "\r\n";
  const headBytes = encoder.encode(text);
  const out = new Uint8Array(headBytes.length + (head ? 0 : body.length));
  out.set(headBytes);
  if (!head) out.set(body, headBytes.length);
  for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
}

/** Serves one connection until it closes or errs. */
async function serveConn(
  conn: Deno.Conn,
  handler: Http1Handler,
  opts: Http1Options,
): Promise<void> {
  const r = new ConnReader(conn);
  const remoteIp = (conn.remoteAddr as Deno.NetAddr).hostname;
  const maxHead = opts.maxHeadBytes ?? 16384;
  const close = () => {
    try {
      conn.close();
    } catch { /* closed */ }
  };
  try {
    for (;;) {
      if (
        r.buffered.length === 0 && !await deadline(r.fill(), opts.idleTimeoutMs ?? 90_000, close)
      ) return;
      const read = async () => {
        const head = await readHead(r, maxHead);
        if (!head) return null;
        const length = header(head, "content-length");
        const chunked = /chunked/i.test(header(head, "transfer-encoding") ?? "");
        if (length !== null && !/^\d+$/.test(length)) {
          throw new HttpError(400, "bad content-length");
        }
        if (length !== null && Number(length) > opts.maxBodyBytes) {
          throw new HttpError(400, "request body too large");
        }
        if (/100-continue/i.test(header(head, "expect") ?? "")) {
          await conn.write(encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
        }
        const body = chunked
          ? await readChunked(r, opts.maxBodyBytes)
          : await readExactly(r, Number(length ?? 0));
        return { head, body };
      };
      const request = await deadline(read(), opts.requestTimeoutMs ?? 10_000, close);
      if (!request) return;
      const { head, body } = request;
      const keepAlive = head.version === "1.1"
        ? !/close/i.test(header(head, "connection") ?? "")
        : /keep-alive/i.test(header(head, "connection") ?? "");
      // While the handler holds the request, a read that ends in EOF means the peer left.
      const gone = new AbortController();
      r.fill().then((more) => {
        if (!more) gone.abort();
      });
      const req: HttpRequest = {
        method: head.method,
        target: head.target,
        body: decoder.decode(body),
        signal: gone.signal,
        header: (name) => header(head, name.toLowerCase()),
      };
      let res: Response;
      try {
        res = await handler(req, remoteIp);
      } catch (e) {
        opts.onError?.(e);
        res = new Response("", { status: 500 });
      }
      if (gone.signal.aborted) return;
      await writeResponse(conn, res, head.method === "HEAD", !keepAlive);
      if (!keepAlive) return;
    }
  } catch (e) {
    if (e instanceof HttpError && !r.eof) {
      await writeResponse(conn, new Response(e.message + "\n", { status: e.status }), false, true)
        .catch(() => {});
    }
  } finally {
    close();
  }
}

/** A running server: its address, and shutdown. */
export interface Http1Server {
  readonly addr: Deno.NetAddr;
  shutdown(): Promise<void>;
}

/** Serves `listener` (TCP or TLS) with `handler` until shutdown. */
export function serveHttp1(
  listener: Deno.Listener,
  handler: Http1Handler,
  opts: Http1Options,
): Http1Server {
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        opts.onError?.(e);
        continue;
      }
      // Responses go out in one write; Nagle would only hold them back behind delayed ACKs.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      conns.add(conn);
      serveConn(conn, handler, opts).finally(() => conns.delete(conn));
    }
  })();
  return {
    addr: listener.addr as Deno.NetAddr,
    async shutdown() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };
}
