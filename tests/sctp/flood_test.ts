/**
 * `sctp:flood`: bad input for the server. A raw socket in the client's namespace sends a
 * burst of spoofed INIT chunks (and malformed chunks, forged cookies, bad checksums) while
 * the real client downloads through the server: the download is intact, the server still
 * serves afterwards, and its memory stays bounded (SCTP's state cookie: an INIT costs the
 * server no state). Associations that go idle are closed after `idle-timeout`; those beyond
 * `max-associations` are aborted, and so is a client whose stream nobody reads, while the
 * other clients go on.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { must, waitUntil } from "../client/netns.ts";
import { readFull } from "../../lib/net/io.ts";
import { freeTcpPort, freeUdpPort } from "../../lib/testing/util.ts";
import {
  CAN_NETNS,
  clientPtCommand,
  DENO,
  Proc,
  ROOT,
  serverCommand,
  socks5Connect,
  USRSCTP,
} from "./peers.ts";
import { SctpChain, SERVER_UDP_PORT } from "./chain.ts";

const FLOOD_PACKETS = 1_000_000;

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}

Deno.test({
  name: "sctp:flood a burst of spoofed INITs and malformed chunks leaves the server serving",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await SctpChain.run(63, 10_000_000, async (chain) => {
      const { net } = chain;
      // INIT ACKs to the spoofed sources leave through the veth, as they would on a real
      // network (and die in `b`).
      await must("ip", ["-n", net.a, "route", "add", "10.200.0.0/16", "via", net.ipB]);
      assertEquals((await chain.curl("--socks5-hostname")).sha256, chain.fileSha256);
      const server = chain.server!;
      const rssBefore = rssMB(server.pid);
      const flooding = net.exec(net.b, [
        DENO,
        "run",
        "--allow-ffi",
        "--allow-read",
        `${ROOT}/tests/sctp/init_flood.ts`,
        net.ipA,
        String(SERVER_UDP_PORT),
        String(FLOOD_PACKETS),
      ]);
      const during = await chain.curl("--socks5-hostname", 300);
      const flood = JSON.parse((await flooding).trim().split("\n").at(-1)!);
      const rssAfter = rssMB(server.pid);
      console.log(
        `flood: ${flood.sent} packets in ${flood.seconds.toFixed(1)} s (${
          Math.round(flood.sent / flood.seconds)
        } pps); download during it: ${(during.bytes / during.seconds / 1e6).toFixed(1)} MB/s; ` +
          `server RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`,
      );
      assertEquals(flood.sent, FLOOD_PACKETS);
      assertEquals(during.sha256, chain.fileSha256);
      assertEquals((await chain.curl("--socks4a")).sha256, chain.fileSha256);
      assert(!server.exited, "server died");
      // A million INITs with per-INIT state would be hundreds of MB; cookies cost nothing.
      assert(rssAfter - rssBefore < 64, `server RSS grew ${rssBefore} → ${rssAfter} MB`);
    });
  },
});

Deno.test({
  name: "sctp:flood an idle association is closed after idle-timeout",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await SctpChain.run(64, 100_000, async (chain) => {
      const { net } = chain;
      await chain.server!.stop();
      await chain.startServer("sctp:idle-timeout=2");
      // usrsctp's client connects and says nothing (its stdin stays open for 60 s).
      const idle = net.spawn(net.b, "idle-client", [
        "bash",
        "-c",
        `sleep 60 | stdbuf -oL ${USRSCTP}/client ${net.ipA} ${SERVER_UDP_PORT} 0 9901 ${SERVER_UDP_PORT}`,
      ]);
      await waitUntil(() => idle.log().includes("SCTP_COMM_UP"), 20_000);
      await waitUntil(() => idle.log().includes("SCTP_SHUTDOWN_COMP"), 30_000);
      // The server still takes new associations afterwards.
      assertEquals((await chain.curl("--socks5-hostname")).sha256, chain.fileSha256);
    });
  },
});

Deno.test({
  name: "sctp:flood associations beyond max-associations are aborted",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await SctpChain.run(65, 100_000, async (chain) => {
      const { net } = chain;
      await chain.server!.stop();
      await chain.startServer("sctp:max-associations=2");
      // Our client holds one association; two more from usrsctp's client: the second is one
      // too many.
      assertEquals((await chain.curl("--socks5-hostname")).sha256, chain.fileSha256);
      const peers = [0, 1].map((i) =>
        net.spawn(net.b, `peer${i}`, [
          "bash",
          "-c",
          `sleep 60 | stdbuf -oL ${USRSCTP}/client ${net.ipA} ${SERVER_UDP_PORT} 0 ${
            9901 + i
          } ${SERVER_UDP_PORT}`,
        ])
      );
      const lost = () => peers.filter((p) => p.log().includes("SCTP_COMM_LOST")).length;
      await waitUntil(() => peers.every((p) => p.log().includes("SCTP_COMM_UP")), 20_000);
      await waitUntil(() => lost() > 0, 20_000);
      await new Promise((r) => setTimeout(r, 1000));
      assertEquals(lost(), 1); // whichever came second
      assertEquals((await chain.curl("--socks4a")).sha256, chain.fileSha256);
    });
  },
});

Deno.test({
  name: "sctp:flood a client whose stream nobody reads is aborted; other clients go on",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The "ORPort" never reads its first connection, and echoes every later one.
    const orPort = freeTcpPort();
    const or = Deno.listen({ hostname: "127.0.0.1", port: orPort });
    const held: Deno.Conn[] = [];
    const serving = (async () => {
      for await (const c of or) {
        if (held.length === 0) held.push(c);
        else c.readable.pipeTo(c.writable).catch(() => {});
      }
    })().catch(() => {});
    const udp = freeUdpPort();
    const state = await Deno.makeTempDir({ prefix: "sctp-overrun-" });
    const { cmd, env } = serverCommand(`127.0.0.1:${udp}`, `127.0.0.1:${orPort}`, state);
    const server = new Proc("server", cmd, env, true);
    const clients = [0, 1].map((i) => {
      const c = clientPtCommand(state);
      return new Proc(`client${i}`, c.cmd, c.env, true);
    });
    try {
      await server.waitFor(/SMETHODS DONE/);
      const ports = await Promise.all(
        clients.map(async (c) => Number((await c.waitFor(/CMETHOD sctp socks5 [\d.]+:(\d+)/))[1])),
      );
      const stuck = await socks5Connect(ports[0]!, "127.0.0.1", udp);
      // Far more than TCP's buffers and the association's 16 MiB: the server must give up on
      // this client rather than buffer it or stall.
      const chunk = new Uint8Array(1 << 20);
      const pushing = (async () => {
        for (let i = 0; i < 256; i++) await stuck.write(chunk);
      })().catch((e) => e as Error);
      await server.waitFor(
        /SCTP association from 127\.0\.0\.1:\d+ aborted: its readers fell behind/,
        60_000,
      );
      await clients[0]!.waitFor(/sctp association down/);
      assert(await pushing instanceof Error, "the stuck client could write 256 MiB");
      stuck.close();
      // The other client's association was never touched.
      const other = await socks5Connect(ports[1]!, "127.0.0.1", udp);
      const hello = new TextEncoder().encode("still served");
      await other.write(hello);
      const back = await readFull(other, hello.length, "echo");
      assertEquals(new TextDecoder().decode(back), "still served");
      other.close();
    } catch (e) {
      for (const p of [server, ...clients]) {
        console.error(`--- ${p.name}\n${p.output.slice(-2000)}`);
      }
      throw e;
    } finally {
      for (const c of clients) await c.stop();
      await server.stop();
      held.forEach((c) => c.close());
      or.close();
      await serving;
      await Deno.remove(state, { recursive: true });
    }
  },
});
