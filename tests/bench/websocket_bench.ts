/**
 * WebSocket server throughput: the bounded `ws` listener (lib/net/ws_listener.ts) against
 * `Deno.upgradeWebSocket`, each direction, 64 KiB messages over loopback, with Deno's
 * WebSocket as the client. Rounds alternate between the two; the median is printed.
 */
import { type Conn, dialWebSocket, webSocketConn } from "../../lib/net/mod.ts";
import { WsListener } from "../../lib/net/ws_listener.ts";

const MESSAGE = 64 * 1024;
const TOTAL = 128 << 20;
const ROUNDS = 3;

interface Server {
  url: string;
  /** The next accepted connection. */
  next(): Promise<Conn>;
  close(): Promise<void>;
}

async function wsServer(): Promise<Server> {
  const l = await WsListener.listen();
  return {
    url: `ws://127.0.0.1:${l.addr.port}/`,
    next: async () => (await l.accept()).conn,
    close: () => l.close(),
  };
}

function denoServer(): Promise<Server> {
  const waiting: ((c: Conn) => void)[] = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    waiting.shift()?.(webSocketConn(socket));
    return response;
  });
  return Promise.resolve({
    url: `ws://127.0.0.1:${s.addr.port}/`,
    next: () => new Promise((r) => waiting.push(r)),
    close: () => s.shutdown(),
  });
}

async function send(conn: Conn): Promise<void> {
  const w = conn.writable.getWriter();
  const chunk = new Uint8Array(MESSAGE);
  for (let sent = 0; sent < TOTAL; sent += MESSAGE) await w.write(chunk);
  w.releaseLock();
}

async function receive(conn: Conn): Promise<void> {
  const r = conn.readable.getReader();
  for (let got = 0; got < TOTAL;) {
    const { value, done } = await r.read();
    if (done) throw new Error(`EOF after ${got} bytes`);
    got += value.length;
  }
  r.releaseLock();
}

/** MB/s of one transfer of TOTAL bytes; `up` is client → server. */
async function round(server: Server, up: boolean): Promise<number> {
  const accepted = server.next();
  const client = await dialWebSocket(server.url);
  const conn = await accepted;
  const started = performance.now();
  await Promise.all(up ? [send(client), receive(conn)] : [send(conn), receive(client)]);
  const mbps = TOTAL / 1e6 / ((performance.now() - started) / 1000);
  client.close();
  conn.close();
  return mbps;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function run(): Promise<void> {
  const servers = { "ws listener": await wsServer(), "Deno.upgradeWebSocket": await denoServer() };
  for (const up of [true, false]) {
    const figures: Record<string, number[]> = {};
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, server] of Object.entries(servers)) {
        (figures[name] ??= []).push(await round(server, up));
      }
    }
    for (const [name, xs] of Object.entries(figures)) {
      console.log(
        `${up ? "client → server" : "server → client"}  ${name.padEnd(22)} ${
          median(xs).toFixed(0)
        } MB/s  (rounds: ${xs.map((x) => x.toFixed(0)).join(", ")})`,
      );
    }
  }
  for (const s of Object.values(servers)) await s.close();
}
