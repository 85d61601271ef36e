/**
 * A recording WebSocket relay for tests/interop/go_client_test.ts: forwards every WebSocket
 * connection to `<target>` (same path and query) and writes what passed, per connection, to
 * `<out>-<n>.json`: the request path and query, and the first 64 KiB each way (hex), message
 * by message. This is how the codec:go-vectors fixtures were captured from Debian's client.
 *
 * Usage: go_recorder.ts <hostname> <port> <target ws:// URL> <out prefix>
 *
 * @module
 */
const [hostname, port, target, out] = Deno.args;
const LIMIT = 64 * 1024;
let n = 0;

interface Direction {
  messages: string[];
  bytes: number;
}

function record(d: Direction, data: ArrayBuffer | string): void {
  if (typeof data === "string" || d.bytes >= LIMIT) return;
  const b = new Uint8Array(data).subarray(0, LIMIT - d.bytes);
  d.messages.push(Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));
  d.bytes += b.length;
}

Deno.serve({
  hostname,
  port: Number(port),
  onListen: () => console.log(`recording on ${hostname}:${port}`),
}, (req) => {
  const url = new URL(req.url);
  const { socket, response } = Deno.upgradeWebSocket(req);
  const id = n++;
  const up: Direction = { messages: [], bytes: 0 };
  const down: Direction = { messages: [], bytes: 0 };
  const pending: ArrayBuffer[] = [];
  const upstream = new WebSocket(target!.replace(/\/$/, "") + url.pathname + url.search);
  upstream.binaryType = "arraybuffer";
  socket.binaryType = "arraybuffer";
  upstream.onopen = () => {
    for (const m of pending.splice(0)) upstream.send(m);
  };
  socket.onmessage = (e) => {
    record(up, e.data);
    if (upstream.readyState === WebSocket.OPEN) upstream.send(e.data);
    else pending.push(e.data);
  };
  upstream.onmessage = (e) => {
    record(down, e.data);
    if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
  };
  const save = () =>
    Deno.writeTextFileSync(
      `${out}-${id}.json`,
      JSON.stringify({
        path: url.pathname,
        query: url.search,
        clientToServer: up.messages,
        serverToClient: down.messages,
      }),
    );
  const close = () => {
    save();
    try {
      socket.close();
    } catch { /* closed */ }
    try {
      upstream.close();
    } catch { /* closed */ }
  };
  socket.onclose = close;
  upstream.onclose = close;
  socket.onerror = close;
  upstream.onerror = close;
  // Save early too: the test reads the recording while the connection is still up.
  setTimeout(save, 5000);
  return response;
});
