/**
 * A WebSocket server that bounds everything a peer can make it hold, yielding each
 * accepted connection as a {@link Conn} plus the request URL and the peer's address.
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
import type { Addr, Conn } from "./types.ts";

/** Options for {@link WsListener.listen}. */
export interface WsListenOptions {
  hostname?: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
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
  /** Accepted connections waiting for the consumer. Default 1024. */
  backlog?: number;
  /** Called for each connection refused (e.g. to count it in metrics). */
  onRefused?: (reason: keyof WsRefused) => void;
}

/** One accepted WebSocket connection. */
export interface WsAccepted {
  /** Each binary (or text) message is one chunk; each chunk written is one binary message. */
  conn: Conn;
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

const DEFAULTS = {
  hostname: "127.0.0.1",
  port: 0,
  maxPayload: 1 << 20,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 0,
  closeGraceMs: 5_000,
  readHighWaterMark: 1 << 20,
  writeHighWaterMark: 1 << 20,
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
      server.listen(opts.port, opts.hostname, () => {
        server.off("error", reject);
        resolve(new WsListener(server, opts));
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
    for (let a = this.#queue.tryShift(); a; a = this.#queue.tryShift()) a.conn.close();
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
      const conn = wsConn(ws, socket, this.addr, remote, this.#opts, state, refuse);
      if (!this.#queue.push({ conn, url, remoteAddr: remote })) ws.terminate();
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
 * A Conn over a server-side `ws` socket (on TCP `socket`), with pause/resume backpressure.
 * A refused message ends `readable` at once with an error.
 */
function wsConn(
  ws: WsSocket,
  socket: Duplex,
  localAddr: Addr,
  remoteAddr: Addr,
  opts: typeof DEFAULTS,
  state: { lastMessage: number },
  refuse: (reason: keyof WsRefused) => void,
): Conn {
  const close = () => {
    if (ws.readyState === WsSocket.OPEN) ws.close(1000);
  };
  let ended = false;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (e: Error) => {
        if (ended) return;
        ended = true;
        controller.error(e);
      };
      // ws has sent a Close (1009 for an oversized message) and would read and discard
      // whatever the peer keeps sending until the grace period ends. Stop reading it instead
      // (ws resumes the socket on the next tick, so pause after that).
      ws.on("error", (e: Error & { code?: string }) => {
        if (e.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") refuse("oversize");
        fail(e);
        process.nextTick(() => socket.pause());
      });
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        state.lastMessage = Date.now();
        if (ended) return;
        if (!isBinary) {
          refuse("text");
          ws.close(1003, "binary only");
          fail(new TypeError("websocket: text message"));
          return;
        }
        controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if (controller.desiredSize! <= 0 && !ws.isPaused) ws.pause();
      });
      ws.once("close", (code: number) => {
        if (ended) return;
        ended = true;
        if (CLEAN_CLOSE.has(code)) controller.close();
        else controller.error(new ClosedError(`websocket (close code ${code})`));
      });
    },
    pull() {
      if (ws.isPaused) ws.resume();
    },
    cancel() {
      ended = true;
      close();
    },
  }, { highWaterMark: opts.readHighWaterMark, size: (chunk) => chunk.byteLength });

  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (ws.readyState !== WsSocket.OPEN) throw new ClosedError("websocket");
      // ws keeps a reference until the bytes are out; the caller may reuse its buffer.
      const copy = Buffer.from(chunk);
      if (ws.bufferedAmount + copy.length <= opts.writeHighWaterMark) {
        ws.send(copy, { binary: true });
        return;
      }
      return new Promise<void>((resolve, reject) =>
        ws.send(copy, { binary: true }, (e) => e ? reject(new ClosedError("websocket")) : resolve())
      );
    },
    close,
    abort: close,
  });

  return { readable, writable, localAddr, remoteAddr, close };
}
