/**
 * What the proxy benchmarks' drivers (tests/bench/proxy_bench_driver.ts,
 * web_proxy_bench_driver.ts) share: the source/sink relay behind the proxy, and one download
 * and one upload of `size` bytes through it, timed, with the proxy's CPU seconds.
 *
 * @module
 */
import { sleep } from "../../lib/net/sleep.ts";

/**
 * The relay: a client first sends `D` or `U` and a u32 size. `D`: the relay streams that many
 * bytes to it. `U`: the relay counts that many bytes from it and answers one byte.
 */
export function sourceSinkRelay(hostname: string): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ hostname, port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    let pending = new Uint8Array(0);
    let uploadLeft = 0;
    socket.onmessage = async (e) => {
      let data = new Uint8Array(e.data as ArrayBuffer);
      if (uploadLeft > 0) {
        uploadLeft -= data.length;
        if (uploadLeft <= 0) socket.send(new Uint8Array([1]));
        return;
      }
      const h = new Uint8Array(pending.length + data.length);
      h.set(pending);
      h.set(data, pending.length);
      if (h.length < 5) return void (pending = h);
      pending = new Uint8Array(0);
      const size = new DataView(h.buffer).getUint32(1);
      data = h.subarray(5);
      if (h[0] === 0x55) { // U
        uploadLeft = size - data.length;
        if (uploadLeft <= 0) socket.send(new Uint8Array([1]));
        return;
      }
      const chunk = new Uint8Array(65536);
      for (let sent = 0; sent < size; sent += chunk.length) {
        socket.send(chunk.subarray(0, Math.min(chunk.length, size - sent)));
        while (socket.bufferedAmount > 1 << 20) await sleep(2);
      }
    };
    return response;
  });
  return { url: `ws://${hostname}:${server.addr.port}/`, close: () => server.shutdown() };
}

/** Seconds and proxy CPU seconds of one download and one upload through the relay. */
export interface Transfer {
  downSeconds: number;
  downCpu: number;
  upSeconds: number;
  upCpu: number;
}

/**
 * Downloads then uploads `size` bytes through `sourceSinkRelay` over the client's streams;
 * `cpuSeconds` reads the proxy's CPU time. Releases the streams' locks when done.
 */
export async function transfer(
  kind: string,
  conn: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  size: number,
  cpuSeconds: () => number,
): Promise<Transfer> {
  const w = conn.writable.getWriter();
  const r = conn.readable.getReader();
  const header = (mode: string) => {
    const h = new Uint8Array(5);
    h[0] = mode.charCodeAt(0);
    new DataView(h.buffer).setUint32(1, size);
    return h;
  };
  let cpu = cpuSeconds();
  let t = performance.now();
  await w.write(header("D"));
  for (let got = 0; got < size;) {
    const { value, done } = await r.read();
    if (done) throw new Error(`${kind}: download ended after ${got} bytes`);
    got += value.length;
  }
  const downSeconds = (performance.now() - t) / 1000;
  const downCpu = cpuSeconds() - cpu;
  cpu = cpuSeconds();
  t = performance.now();
  await w.write(header("U"));
  const payload = new Uint8Array(50_000);
  for (let sent = 0; sent < size; sent += payload.length) await w.write(payload);
  if ((await r.read()).done) throw new Error(`${kind}: upload not acknowledged`);
  const upSeconds = (performance.now() - t) / 1000;
  const upCpu = cpuSeconds() - cpu;
  w.releaseLock();
  r.releaseLock();
  return { downSeconds, downCpu, upSeconds, upCpu };
}
