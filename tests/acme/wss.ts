/** WebSocket echo helpers for the `acme:` tests. @module */
import tls from "node:tls";

/** Upgrades every request to a WebSocket that echoes each message back. */
export function echoHandler(req: Request): Response {
  if (req.headers.get("upgrade") !== "websocket") return new Response("ok\n");
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
}

// Deno's non-standard WebSocket options, hidden by the DOM lib's constructor type.
type DenoWebSocket = new (url: string, options: { client: Deno.HttpClient }) => WebSocket;

/** A WebSocket client trusting `rootPem`, opened on `url`; resolves once open. */
export async function openWss(url: string, rootPem: string): Promise<{
  ws: WebSocket;
  /** Resolves when the connection closes, from either side. */
  closed: Promise<void>;
  echo(text: string): Promise<string>;
  close(): void;
}> {
  const client = Deno.createHttpClient({ caCerts: [rootPem] });
  const ws = new (WebSocket as unknown as DenoWebSocket)(url, { client });
  const close = () => {
    ws.close();
    client.close();
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) =>
      reject(new Error(`WebSocket to ${url} failed: ${(e as ErrorEvent).message}`));
  }).catch((e) => {
    close();
    throw e;
  });
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  return {
    ws,
    closed,
    close,
    echo: (text) =>
      new Promise((resolve, reject) => {
        ws.onmessage = (e) => resolve(String(e.data));
        ws.onerror = (e) => reject(new Error(`WebSocket error: ${(e as ErrorEvent).message}`));
        ws.send(text);
      }),
  };
}

/** Serial number (hex, upper case) of the certificate the TLS server on `port` presents. */
export function servedSerial(port: number, servername: string, rootPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: "127.0.0.1", port, servername, ca: [rootPem] }, () => {
      const serial = sock.getPeerCertificate().serialNumber;
      sock.destroy();
      resolve(serial.toUpperCase());
    });
    sock.on("error", reject);
  });
}
