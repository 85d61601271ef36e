/**
 * `sctp:flood`: bad input for the server. A raw socket in the client's namespace sends a
 * burst of spoofed INIT chunks (and malformed chunks, forged cookies, bad checksums) while
 * the real client downloads through the server: the download is intact, the server still
 * serves afterwards, and its memory stays bounded (SCTP's state cookie: an INIT costs the
 * server no state). Associations that go idle are closed after `idle-timeout`; those beyond
 * `max-associations` are aborted.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { must, waitUntil } from "../client/netns.ts";
import { CAN_NETNS, DENO, ROOT, USRSCTP } from "./peers.ts";
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
    const chain = await SctpChain.start(63, 10_000_000);
    const { net } = chain;
    try {
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
    } catch (e) {
      chain.dumpLogs();
      throw e;
    } finally {
      await chain.stop();
    }
  },
});

Deno.test({
  name: "sctp:flood an idle association is closed after idle-timeout",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await SctpChain.start(64, 100_000);
    const { net } = chain;
    try {
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
    } catch (e) {
      chain.dumpLogs();
      throw e;
    } finally {
      await chain.stop();
    }
  },
});

Deno.test({
  name: "sctp:flood associations beyond max-associations are aborted",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await SctpChain.start(65, 100_000);
    const { net } = chain;
    try {
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
    } catch (e) {
      chain.dumpLogs();
      throw e;
    } finally {
      await chain.stop();
    }
  },
});
