/**
 * A WebSocket server that bounds everything a peer can make it hold, yielding each
 * accepted connection as a light {@link ChunkLink} (or, on request, a {@link Conn}) plus
 * the request URL and the peer's address.
 *
 * Built on the npm `ws` package over `node:http`/`node:https` (measured faster than
 * `Deno.upgradeWebSocket` here, see README "Bounds"), because Deno's own WebSocket buffers
 * whole messages before any size check. Each bound, as bytes arrive:
 * - `maxPayload`: a message (all its fragments together) larger than this closes the
 *   connection with 1009 when the limit is crossed, never after buffering it.
 * - `headerTimeoutMs`: the HTTP request (TLS handshake included) must be complete by then
 *   (slowloris).
 * - `readHighWaterMark`: unread bytes above this pause the TCP socket (TCP backpressure).
 * - `writeHighWaterMark`: writes wait while more than this is unsent.
 * - `notSentLowat`: the same in the kernel (TCP_NOTSENT_LOWAT, Linux, through FFI): its send
 *   buffer, autotuned up to MBs, takes a write only while less than this waits unsent, so a
 *   peer that stops reading (a frozen process whose kernel still acknowledged what filled its
 *   window) holds that much of the server's writes, not MBs.
 * - `closeGraceMs`: after the server sends a Close, the TCP connection is aborted if the
 *   peer has not finished the closing handshake by then.
 * - `idleTimeoutMs`: a connection without a message for this long is closed (0: never).
 * - `backlog`: accepted connections not yet taken by the consumer; beyond it, refused.
 *
 * Text messages are refused (1003): every Snowflake peer sends binary. {@link
 * WsListener.refused} counts what was refused, and `onRefused` hears of each.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import process from "node:process";
import { type ServerOptions, WebSocket as WsSocket, WebSocketServer } from "ws";
import { HostPortAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";
import { AsyncQueue } from "./queue.ts";
import { linkConn } from "./chunk_link.ts";
import { setTcpNotSentLowat } from "./sockopt.ts";
import type { Addr, ChunkLink, Conn } from "./types.ts";

/** Options for {@link WsListener.listen}. */
export interface WsListenOptions {
  hostname?: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /**
   * Share the port with other listeners that set it too (SO_REUSEPORT: the kernel spreads
   * connections over them, e.g. one per Worker). Default false.
   */
  reusePort?: boolean;
  /** PEM certificate chain and key: serve wss:// (reload with {@link WsListener.reloadTls}). */
  tls?: { cert: string; key: string };
  /** Largest message accepted, fragments included. Default 1 MiB. */
  maxPayload?: number;
  /** Time allowed for the TLS handshake and the HTTP request headers. Default 10 s. */
  headerTimeoutMs?: number;
  /** Close a connection after this long without a message; 0 never. Default 0. */
  idleTimeoutMs?: number;
  /** Abort the TCP connection this long after sending Close. Default 5 s. */
  closeGraceMs?: number;
  /** Pause reading while this many received bytes are unread. Default 1 MiB. */
  readHighWaterMark?: number;
  /** Writes wait while more than this many bytes are unsent. Default 1 MiB. */
  writeHighWaterMark?: number;
  /** TCP_NOTSENT_LOWAT of every accepted connection, in bytes; 0 leaves the kernel's. Default 0. */
  notSentLowat?: number;
  /** Accepted connections waiting for the consumer. Default 1024. */
  backlog?: number;
  /** Called for each connection refused (e.g. to count it in metrics). */
  onRefused?: (reason: keyof WsRefused) => void;
}

/** One accepted WebSocket connection: use either `link` or `conn`, not both. */
export interface WsAccepted {
  /** Each binary message is one chunk; each chunk written is one binary message. */
  link: ChunkLink;
  /** The same as a Conn (web streams, built on first use). */
  readonly conn: Conn;
  /** The request URL (path and query, e.g. a proxy's `client_ip`). */
  url: URL;
  /** The TCP peer, as `conn.remoteAddr`. */
  remoteAddr: HostPortAddr;
}

/** Connections the listener refused, by reason. */
export interface WsRefused {
  /** A message over maxPayload (closed with 1009). */
  oversize: number;
  /** A text message (closed with 1003). */
  text: number;
  /** The accept backlog was full (503). */
  backlog: number;
}

const EMPTY = new Uint8Array(0);

function accepted(link: ChunkLink, url: URL, local: Addr, remoteAddr: HostPortAddr): WsAccepted {
  let conn: Conn | null = null;
  return {
    link,
    url,
    remoteAddr,
    get conn() {
      return conn ??= linkConn(link, local, remoteAddr);
    },
  };
}

const DEFAULTS = {
  hostname: "127.0.0.1",
  port: 0,
  reusePort: false,
  maxPayload: 1 << 20,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 0,
  closeGraceMs: 5_000,
  readHighWaterMark: 1 << 20,
  writeHighWaterMark: 1 << 20,
  notSentLowat: 0,
  backlog: 1024,
  onRefused: (_reason: keyof WsRefused): void => {},
};

/** Close codes after which `readable` ends cleanly rather than with an error. */
const CLEAN_CLOSE = new Set([1000, 1001, 1005]);

type Server = http.Server | https.Server;

/** A listening WebSocket server; iterate it (or call {@link accept}) for connections. */
export class WsListener implements AsyncIterable<WsAccepted> {
  readonly addr: HostPortAddr;
  readonly refused: WsRefused = { oversize: 0, text: 0, backlog: 0 };
  #server: Server;
  #wss: WebSocketServer;
  #opts: typeof DEFAULTS;
  #queue: AsyncQueue<WsAccepted>;
  #live = new Map<WsSocket, { lastMessage: number }>();
  #sweeper: ReturnType<typeof setInterval> | null = null;

  private constructor(server: Server, opts: typeof DEFAULTS) {
    this.#server = server;
    this.#opts = opts;
    this.#queue = new AsyncQueue(opts.backlog);
    // closeTimeout (ws ≥ 8.19) is missing from @types/ws.
    const wsOptions: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      maxPayload: opts.maxPayload,
      closeTimeout: opts.closeGraceMs,
      clientTracking: false,
      perMessageDeflate: false,
    };
    this.#wss = new WebSocketServer(wsOptions);
    const a = server.address();
    if (a === null || typeof a === "string") throw new TypeError("WebSocket server has no address");
    this.addr = new HostPortAddr("websocket", a.address, a.port);
    server.on("request", (_req, res) => {
      res.writeHead(400, { "Content-Type": "text/plain", Connection: "close" });
      res.end("Bad Request\n");
    });
    server.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
    if (opts.idleTimeoutMs > 0) {
      this.#sweeper = setInterval(() => this.#sweep(), Math.max(100, opts.idleTimeoutMs / 4));
      Deno.unrefTimer(Number(this.#sweeper));
    }
  }

  /** Starts listening; resolves once bound. */
  static listen(options: WsListenOptions = {}): Promise<WsListener> {
    const opts = { ...DEFAULTS, ...options };
    const limits = {
      headersTimeout: opts.headerTimeoutMs,
      requestTimeout: opts.headerTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, opts.headerTimeoutMs / 2),
    };
    const server: Server = options.tls
      ? https.createServer({ ...limits, ...options.tls, handshakeTimeout: opts.headerTimeoutMs })
      : http.createServer(limits);
    server.headersTimeout = opts.headerTimeoutMs;
    server.requestTimeout = opts.headerTimeoutMs;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port: opts.port, host: opts.hostname, reusePort: opts.reusePort }, () => {
        server.off("error", reject);
        const listener = new WsListener(server, opts);
        // Set on the listener before it accepts: its connections inherit it.
        if (opts.notSentLowat > 0) setTcpNotSentLowat(listener.addr.port, opts.notSentLowat);
        resolve(listener);
      });
    });
  }

  /** Open WebSocket connections. */
  get size(): number {
    return this.#live.size;
  }

  /** Serves new TLS connections with this certificate; open ones keep theirs. */
  reloadTls(cert: string, key: string): void {
    if (!(this.#server instanceof https.Server)) throw new TypeError("not a TLS listener");
    this.#server.setSecureContext({ cert, key });
  }

  /** The next accepted connection; rejects with ClosedError once closed. */
  accept(signal?: AbortSignal): Promise<WsAccepted> {
    return this.#queue.shift(signal);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WsAccepted> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  /** Stops listening and aborts every connection. */
  async close(): Promise<void> {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#queue.close(new ClosedError("WebSocket listener"));
    for (let a = this.#queue.tryShift(); a; a = this.#queue.tryShift()) a.link.close();
    for (const ws of this.#live.keys()) ws.terminate();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#queue.closed || this.#queue.length >= this.#opts.backlog) {
      this.#refuse("backlog");
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const s = req.socket;
      const remote = new HostPortAddr("websocket", s.remoteAddress ?? "", s.remotePort ?? 0);
      const url = new URL(
        req.url ?? "/",
        `${this.#server instanceof https.Server ? "wss" : "ws"}://${
          req.headers.host ?? "localhost"
        }`,
      );
      const state = { lastMessage: Date.now() };
      this.#live.set(ws, state);
      ws.once("close", () => this.#live.delete(ws));
      const refuse = (reason: keyof WsRefused) => this.#refuse(reason);
      const link = new WsLink(ws, socket, this.#opts, state, refuse);
      if (!this.#queue.push(accepted(link, url, this.addr, remote))) ws.terminate();
    });
  }

  #refuse(reason: keyof WsRefused): void {
    this.refused[reason]++;
    this.#opts.onRefused(reason);
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#opts.idleTimeoutMs;
    for (const [ws, s] of this.#live) if (s.lastMessage < cutoff) ws.close(1000, "idle");
  }
}

/**
 * A {@link ChunkLink} over a server-side `ws` socket (on TCP `socket`): each binary message
 * is one chunk, each chunk written one binary message. Reading pauses the socket while
 * `readHighWaterMark` bytes are unread; writes wait while more than `writeHighWaterMark`
 * are unsent. A refused message ends reading at once with an error.
 */
class WsLink implements ChunkLink {
  #ws: WsSocket;
  #opts: typeof DEFAULTS;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #unread = 0;
  /** Set once reading has ended: null for a clean end, else the error. */
  #end: { error: Error | null } | null = null;
  #waiter: { resolve: (c: Uint8Array | null) => void; reject: (e: Error) => void } | null = null;

  constructor(
    ws: WsSocket,
    socket: Duplex,
    opts: typeof DEFAULTS,
    state: { lastMessage: number },
    refuse: (reason: keyof WsRefused) => void,
  ) {
    this.#ws = ws;
    this.#opts = opts;
    // ws has sent a Close (1009 for an oversized message) and would read and discard
    // whatever the peer keeps sending until the grace period ends. Stop reading it instead
    // (ws resumes the socket on the next tick, so pause after that).
    ws.on("error", (e: Error & { code?: string }) => {
      if (e.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") refuse("oversize");
      this.#finish(e);
      process.nextTick(() => socket.pause());
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      state.lastMessage = Date.now();
      if (this.#end) return;
      if (!isBinary) {
        refuse("text");
        ws.close(1003, "binary only");
        this.#finish(new TypeError("websocket: text message"));
        return;
      }
      const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = null;
        w.resolve(chunk);
        return;
      }
      this.#chunks.push(chunk);
      this.#unread += chunk.length;
      if (this.#unread >= opts.readHighWaterMark && !ws.isPaused) ws.pause();
    });
    ws.once("close", (code: number) => {
      this.#finish(
        CLEAN_CLOSE.has(code) ? null : new ClosedError(`websocket (close code ${code})`),
      );
    });
  }

  #finish(error: Error | null): void {
    if (this.#end) return;
    this.#end = { error };
    this.#chunks = [];
    this.#head = 0;
    this.#unread = 0;
    const w = this.#waiter;
    this.#waiter = null;
    if (w) error ? w.reject(error) : w.resolve(null);
  }

  read(): Promise<Uint8Array | null> {
    if (this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]!;
      this.#chunks[this.#head++] = EMPTY;
      if (this.#head === this.#chunks.length) {
        this.#chunks = [];
        this.#head = 0;
      }
      this.#unread -= chunk.length;
      if (this.#unread < this.#opts.readHighWaterMark && this.#ws.isPaused) this.#ws.resume();
      return Promise.resolve(chunk);
    }
    if (this.#end) {
      return this.#end.error ? Promise.reject(this.#end.error) : Promise.resolve(null);
    }
    if (this.#ws.isPaused) this.#ws.resume();
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  write(chunk: Uint8Array): Promise<void> | void {
    const ws = this.#ws;
    if (ws.readyState !== WsSocket.OPEN) throw new ClosedError("websocket");
    if (ws.bufferedAmount + chunk.length <= this.#opts.writeHighWaterMark) {
      ws.send(chunk, { binary: true });
      return;
    }
    return new Promise<void>((resolve, reject) =>
      ws.send(chunk, { binary: true }, (e) => e ? reject(new ClosedError("websocket")) : resolve())
    );
  }

  close(): void {
    this.#finish(new ClosedError("websocket"));
    if (this.#ws.readyState === WsSocket.OPEN) this.#ws.close(1000);
  }
}
