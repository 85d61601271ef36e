/**
 * A measuring HTTP GET through a SOCKS5 proxy, for the client's tests and benchmarks: prints
 * one JSON line with the body's size and sha256, the time to the first body byte, when the
 * request went out (after the SOCKS handshakes) and the last byte came, the total time and the
 * longest gap between two reads (a stall), plus a stall histogram.
 *
 * Usage: deno run --allow-net --allow-write socks_fetch.ts SOCKS_PORT URL [RATE [PROGRESS_FILE]]
 * With SOCKS_PORT written `PORT+inner`, a second SOCKS5 CONNECT is sent through the first
 * (for a PT client such as Go's snowflake-client, whose stream ends at the far SOCKS server).
 * A read rate in bytes/s (optional, 0 = none) paces the reader so that a download lasts long
 * enough to kill a proxy in the middle of it; the byte count so far is written to
 * PROGRESS_FILE about ten times a second (for the demo's progress lines).
 *
 * @module
 */
const [portArg, urlArg, rateArg, progressFile] = Deno.args;
if (!portArg || !urlArg) throw new TypeError("usage: socks_fetch.ts SOCKS_PORT URL [RATE]");
const url = new URL(urlArg);
const rate = rateArg ? Number(rateArg) : 0;

const t0 = performance.now();
const inner = portArg.endsWith("+inner");
const conn = await Deno.connect({ hostname: "127.0.0.1", port: parseInt(portArg) });
const host = new TextEncoder().encode(url.hostname);
const port = Number(url.port || 80);
const request = new Uint8Array([5, 1, 0, 3, host.length, ...host, port >> 8, port & 0xff]);
const reader = conn.readable.getReader();
let buf = new Uint8Array(0);
async function fill(n: number): Promise<void> {
  while (buf.length < n) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`EOF after ${buf.length} bytes`);
    buf = new Uint8Array([...buf, ...value]);
  }
}
/** SOCKS5 CONNECT; username/password (a harmless PT argument) when the server wants it. */
async function socks5(user: string | null): Promise<void> {
  await conn.write(new Uint8Array(user ? [5, 2, 0, 2] : [5, 1, 0]));
  await fill(2);
  if (buf[1] === 2 && user) {
    const u = new TextEncoder().encode(user);
    await conn.write(new Uint8Array([1, u.length, ...u, 1, 0]));
    await fill(4);
    if (buf[3] !== 0) throw new Error("SOCKS auth refused");
    buf = buf.subarray(2);
  } else if (buf[1] !== 0) throw new Error(`SOCKS method refused: ${buf[1]}`);
  buf = buf.subarray(2);
  await conn.write(request);
  await fill(10);
  if (buf[1] !== 0) throw new Error(`SOCKS refused: ${buf[1]}`);
  buf = buf.subarray(10);
}
// A PT client (Go's) takes only username/password; its stream then reaches the far server.
await socks5(inner ? "max=1" : null);
if (inner) await socks5(null);
const w = conn.writable.getWriter();
const requested = performance.now();
await w.write(
  new TextEncoder().encode(`GET ${url.pathname} HTTP/1.0\r\nHost: ${url.host}\r\n\r\n`),
);

// Headers.
let headerEnd = -1;
while (headerEnd < 0) {
  const { value, done } = await reader.read();
  if (done) throw new Error("EOF in HTTP headers");
  const b = new Uint8Array(buf.length + value.length);
  b.set(buf);
  b.set(value, buf.length);
  buf = b;
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
      headerEnd = i + 4;
      break;
    }
  }
}
const head = new TextDecoder().decode(buf.subarray(0, headerEnd));
const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
const parts: Uint8Array[] = [buf.slice(headerEnd)];
let bytes = parts[0]!.length;
let firstByte = bytes > 0 ? performance.now() : 0;
let last = performance.now();
let longestStall = 0;
const histogram: Record<string, number> = {
  "0.5-1s": 0,
  "1-2s": 0,
  "2-5s": 0,
  "5-12s": 0,
  ">12s": 0,
};
const tStart = performance.now();
let lastReport = 0;
while (length < 0 || bytes < length) {
  const { value, done } = await reader.read();
  if (done) break;
  const now = performance.now();
  if (!firstByte) firstByte = now;
  const gap = (now - last) / 1000;
  longestStall = Math.max(longestStall, gap);
  if (gap >= 12) histogram[">12s"]!++;
  else if (gap >= 5) histogram["5-12s"]!++;
  else if (gap >= 2) histogram["2-5s"]!++;
  else if (gap >= 1) histogram["1-2s"]!++;
  else if (gap >= 0.5) histogram["0.5-1s"]!++;
  parts.push(value);
  bytes += value.length;
  if (progressFile && now - lastReport > 100) {
    Deno.writeTextFileSync(progressFile, String(bytes));
    lastReport = now;
  }
  if (rate > 0) {
    const ahead = bytes / rate - (performance.now() - tStart) / 1000;
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead * 1000));
  }
  last = performance.now();
}
const lastByte = performance.now();
const body = new Uint8Array(bytes);
let off = 0;
for (const p of parts) {
  body.set(p, off);
  off += p.length;
}
const digest = await crypto.subtle.digest("SHA-256", body);
conn.close();
console.log(JSON.stringify({
  bytes,
  sha256: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(""),
  firstByteSeconds: (firstByte - t0) / 1000,
  requestSeconds: (requested - t0) / 1000,
  lastByteSeconds: (lastByte - t0) / 1000,
  seconds: (performance.now() - t0) / 1000,
  longestStall,
  histogram,
}));
