/**
 * bounds: the running server against the attacks of issue 7 §3, as an attacker would
 * send them: messages that never end, huge frames, slowloris, Closes never answered.
 * Each attack checks the server's own RSS or its connections, not a library's.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Logger } from "../../lib/log/mod.ts";
import {
  clientFrame,
  clientFrameHeader,
  rawWebSocket,
  readUntilClosed,
  writeUntilRefused,
} from "../../lib/testing/raw_websocket.ts";
import { SnowflakeServer } from "../../server/server.ts";
import { goodEnv, smethodPort, spawnServer } from "./spawn.ts";
import { mib, procUsage } from "./proc.ts";
import { startEcho } from "./ws_client.ts";
import { sleep } from "../../lib/net/sleep.ts";
import { within } from "../../lib/testing/util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MiB = 1 << 20;

/** Runs `attack` against a spawned server; resolves with the server's peak RSS growth. */
async function peakRssGrowth(attack: (port: number) => Promise<void>): Promise<number> {
  const echo = startEcho();
  const p = spawnServer(goodEnv(echo.port));
  try {
    const port = smethodPort(await p.waitFor(/^SMETHODS DONE$/));
    const pid = p.child.pid;
    await sleep(500);
    const before = procUsage(pid).rssBytes;
    let peak = before;
    const sampler = setInterval(() => peak = Math.max(peak, procUsage(pid).rssBytes), 50);
    try {
      await attack(port);
    } finally {
      clearInterval(sampler);
    }
    return peak - before;
  } finally {
    p.kill("SIGKILL");
    await p.status;
    echo.close();
  }
}

Deno.test(
  "bounds: server refuses a never-ending fragmented message and 60 MB frames at the limit; RSS stays flat",
  opts,
  async () => {
    const fragment = new Uint8Array(MiB);
    const grown = await peakRssGrowth(async (port) => {
      // 256 MiB offered in 1 MiB fragments of one message that never ends.
      const endless = await rawWebSocket(port);
      const closed = readUntilClosed(endless);
      let sent = 0;
      const written = await writeUntilRefused(endless, () => {
        if (sent >= 256) return null;
        return clientFrame(sent++ === 0 ? 2 : 0, fragment, false);
      });
      assert(written < 256 * MiB, "the server read the whole endless message");
      assert(await within(closed.then(() => true), 60_000, false), "connection still open");
      endless.close();
      // Eight frames each declaring 60 MB, at once.
      await Promise.all(Array.from({ length: 8 }, async () => {
        const big = await rawWebSocket(port);
        const bigClosed = readUntilClosed(big);
        let chunks = -1;
        const bytes = await writeUntilRefused(big, () => {
          if (chunks++ < 0) return clientFrameHeader(2, 60 * MiB);
          return chunks <= 60 ? fragment : null;
        });
        assert(bytes < 60 * MiB, "the server read a whole 60 MB frame");
        assert(await within(bigClosed.then(() => true), 60_000, false), "connection still open");
        big.close();
      }));
    });
    console.log(`  server peak RSS growth ${mib(grown)} MiB`);
    assert(grown < 64 * MiB, `server RSS grew by ${mib(grown)} MiB`);
  },
);

Deno.test(
  "bounds: server closes 1,000 slowloris connections and a half-sent request",
  opts,
  async () => {
    const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    let open = -1;
    await peakRssGrowth(async (port) => {
      const trickle = async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        const closed = readUntilClosed(conn).then(() => true);
        let done = false;
        closed.then(() => done = true);
        for (let i = 0; !done && i < request.length; i++) {
          try {
            await conn.write(request.subarray(i, i + 1));
          } catch {
            break;
          }
          await Promise.race([sleep(5000), closed]);
        }
        const ended = await within(closed, 90_000, false);
        conn.close();
        return ended;
      };
      const half = async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(request.subarray(0, 20));
        const ended = await within(readUntilClosed(conn).then(() => true), 90_000, false);
        conn.close();
        return ended;
      };
      const ended = await Promise.all([half(), ...Array.from({ length: 1000 }, trickle)]);
      open = ended.filter((e) => !e).length;
    });
    assertEquals(open, 0);
  },
);

Deno.test(
  "bounds: server aborts 1,000 peers that never answer its Close",
  opts,
  async () => {
    const echo = startEcho();
    const server = new SnowflakeServer({
      target: {
        orAddr: { hostname: "127.0.0.1", port: echo.port },
        extendedOrAddr: null,
        cookie: null,
      },
      log: new Logger({ write: () => {} }),
      // The peers never send the Snowflake header, so the server closes them after this.
      limits: { handshakeTimeoutMs: 500 },
    });
    try {
      const addr = await server.listen({ hostname: "127.0.0.1", port: 0 });
      const peers = await Promise.all(
        Array.from({ length: 1000 }, () => rawWebSocket(addr.port)),
      );
      // They read (and so receive the Close) but never answer it.
      const ended = await Promise.all(
        peers.map((p) => within(readUntilClosed(p).then(() => true), 90_000, false)),
      );
      for (const p of peers) p.close();
      assertEquals(ended.filter((e) => !e).length, 0);
    } finally {
      await server.close();
      echo.close();
    }
  },
);
