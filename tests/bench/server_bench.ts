/**
 * Server benchmarks (issue: Snowflake server). Runs the real server process and drives it
 * with simulated clients (WebSocket → Turbo Tunnel → KCP → smux) from this process:
 * - download throughput with 1, 10 and 100 concurrent sessions (MB/s, server CPU-s per GB);
 * - server memory per idle session (1,000 sessions, each with one open stream to the ORPort);
 * - server RSS after each of 10 connect/disconnect cycles of 1,000 sessions.
 * The client side runs in JS in this process too, so on 2 cores the figures are a floor.
 *
 * Run alone: `deno run --unstable-net --allow-all tests/bench/server_bench.ts`.
 */
import { goodEnv, smethodPort, spawnServer } from "../server/spawn.ts";
import { connectClient, type TestClient } from "../server/ws_client.ts";
import { mib, procUsage } from "../server/proc.ts";

const MB = 1e6;

/**
 * A fake ORPort: a client writes a u32 byte count, the ORPort streams that many bytes and
 * half-closes; a count of 0 means "stay open and echo" (idle sessions).
 */
function startSource(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const block = new Uint8Array(64 * 1024).fill(0x5a);
  (async () => {
    for await (const c of listener) {
      (async () => {
        try {
          const hdr = new Uint8Array(4);
          let have = 0;
          while (have < 4) {
            const n = await c.read(hdr.subarray(have));
            if (n === null) throw new Error("eof");
            have += n;
          }
          let left = new DataView(hdr.buffer).getUint32(0);
          if (left === 0) {
            const buf = new Uint8Array(4096);
            for (;;) {
              const n = await c.read(buf);
              if (n === null) break;
              await c.write(buf.subarray(0, n));
            }
          }
          while (left > 0) {
            const n = await c.write(block.subarray(0, Math.min(left, block.length)));
            left -= n;
          }
          await c.closeWrite();
          while ((await c.read(new Uint8Array(1024))) !== null) { /* drain */ }
        } catch { /* client went away */ }
        try {
          c.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

async function download(client: TestClient, bytes: number): Promise<number> {
  const stream = await client.smux.openStream();
  const w = stream.writable.getWriter();
  const hdr = new Uint8Array(4);
  new DataView(hdr.buffer).setUint32(0, bytes);
  await w.write(hdr);
  let got = 0;
  for await (const chunk of stream.readable) got += chunk.length;
  await w.close().catch(() => {});
  stream.close();
  return got;
}

/** Opens a stream that stays open (echo mode) and waits for one echoed byte. */
async function openIdleStream(client: TestClient): Promise<void> {
  const stream = await client.smux.openStream();
  const w = stream.writable.getWriter();
  await w.write(new Uint8Array([0, 0, 0, 0, 42]));
  w.releaseLock();
  const r = stream.readable.getReader();
  await r.read();
  r.releaseLock();
}

async function connectMany(url: string, n: number, batch = 100): Promise<TestClient[]> {
  const out: TestClient[] = [];
  for (let i = 0; i < n; i += batch) {
    out.push(
      ...await Promise.all(
        Array.from({ length: Math.min(batch, n - i) }, () => connectClient(url)),
      ),
    );
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<void> {
  const source = startSource();
  const server = spawnServer(goodEnv(source.port));
  try {
    const port = smethodPort(await server.waitFor(/^SMETHODS DONE$/));
    const url = `ws://127.0.0.1:${port}/`;
    const pid = server.child.pid;
    const base = procUsage(pid);
    console.log(`server baseline RSS ${mib(base.rssBytes)} MiB (Deno runtime + server code)`);

    for (const n of [1, 10, 100]) {
      const total = n === 1 ? 50 * MB : 100 * MB;
      const per = Math.floor(total / n);
      const clients = await connectMany(url, n);
      const before = procUsage(pid);
      const t0 = performance.now();
      const got = await Promise.all(clients.map((c) => download(c, per)));
      const secs = (performance.now() - t0) / 1000;
      const after = procUsage(pid);
      const bytes = got.reduce((a, b) => a + b, 0);
      if (bytes !== per * n) throw new Error(`got ${bytes} of ${per * n} bytes`);
      const cpu = after.cpuSeconds - before.cpuSeconds;
      console.log(
        `throughput ${String(n).padStart(3)} sessions: ${(bytes / MB / secs).toFixed(1)} MB/s, ` +
          `server ${(cpu / (bytes / 1e9)).toFixed(1)} CPU-s/GB, RSS ${mib(after.rssBytes)} MiB`,
      );
      for (const c of clients) c.close();
    }

    // num-turbotunnel=2: each KCP instance in its own Worker.
    {
      const two = spawnServer(
        goodEnv(source.port, { TOR_PT_SERVER_TRANSPORT_OPTIONS: "snowflake:num-turbotunnel=2" }),
      );
      try {
        const tport = smethodPort(await two.waitFor(/^SMETHODS DONE$/));
        const n = 100;
        const per = Math.floor(100 * MB / n);
        const clients = await connectMany(`ws://127.0.0.1:${tport}/`, n);
        const before = procUsage(two.child.pid);
        const t0 = performance.now();
        const got = await Promise.all(clients.map((c) => download(c, per)));
        const secs = (performance.now() - t0) / 1000;
        const after = procUsage(two.child.pid);
        const bytes = got.reduce((a, b) => a + b, 0);
        if (bytes !== per * n) throw new Error(`got ${bytes} of ${per * n} bytes`);
        console.log(
          `throughput 100 sessions, num-turbotunnel=2 (Workers): ${
            (bytes / MB / secs).toFixed(1)
          } MB/s, server ${((after.cpuSeconds - before.cpuSeconds) / (bytes / 1e9)).toFixed(1)} ` +
            `CPU-s/GB, RSS ${mib(after.rssBytes)} MiB`,
        );
        for (const c of clients) c.close();
      } finally {
        two.kill("SIGKILL");
        await two.status;
      }
    }

    // Idle sessions: a fresh server, so earlier sessions' garbage does not count.
    server.kill("SIGKILL");
    await server.status;
    // Sessions of disconnected clients close after 5 s of silence (default 90 s).
    const idle = spawnServer(goodEnv(source.port), [
      "--disable-tls",
      "--client-idle-timeout",
      "5",
    ]);
    try {
      const iport = smethodPort(await idle.waitFor(/^SMETHODS DONE$/));
      const iurl = `ws://127.0.0.1:${iport}/`;
      const ipid = idle.child.pid;
      await sleep(500);
      const r0 = procUsage(ipid).rssBytes;
      const N = 1000;
      let clients = await connectMany(iurl, N);
      await Promise.all(clients.map(openIdleStream));
      await sleep(3000);
      const r1 = procUsage(ipid).rssBytes;
      console.log(
        `idle: ${N} sessions (1 open stream each): RSS ${mib(r0)} → ${mib(r1)} MiB, ` +
          `${((r1 - r0) / N / 1024).toFixed(1)} KiB/session (target ≤ 100)`,
      );
      const rss: string[] = [];
      for (let cycle = 1; cycle <= 10; cycle++) {
        for (const c of clients) c.close();
        clients = await connectMany(iurl, N);
        await Promise.all(clients.map(openIdleStream));
        rss.push(mib(procUsage(ipid).rssBytes));
      }
      for (const c of clients) c.close();
      console.log(`RSS (MiB) after each of 10 cycles of ${N} sessions: ${rss.join(", ")}`);
      await sleep(10_000);
      console.log(
        `RSS 10 s after the last disconnect (sessions closed after 5 s of silence): ${
          mib(procUsage(ipid).rssBytes)
        } MiB`,
      );
    } finally {
      idle.kill("SIGKILL");
      await idle.status;
    }
  } finally {
    server.kill("SIGKILL");
    await server.status;
    source.close();
  }
}

if (import.meta.main) await run();
