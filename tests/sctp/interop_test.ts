/**
 * `sctp:interop`: our sctp transport against usrsctp's own example programs (Debian's
 * libusrsctp-examples) over UDP encapsulation, on loopback, both directions:
 * - our client (PT mode, as tor runs it) through `echo_server`: 1 MB of random bytes
 *   come back intact;
 * - usrsctp's `client` program to our server, whose ORPort is a TCP echo server: the
 *   lines it sends come back on its stdout, and the server names the peer's address.
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort, freeUdpPort, sha256Hex } from "../../lib/testing/util.ts";
import { clientPtCommand, Proc, serverCommand, socks5Connect, USRSCTP } from "./peers.ts";

const HAVE_USRSCTP = (() => {
  try {
    return Deno.statSync(`${USRSCTP}/echo_server`).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "sctp:interop our client carries 1 MB through usrsctp's echo_server intact",
  ignore: !HAVE_USRSCTP,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const echoUdp = freeUdpPort();
    const echo = new Proc("echo_server", [`${USRSCTP}/echo_server`, String(echoUdp), "9"]);
    const state = await Deno.makeTempDir({ prefix: "sctp-interop-" });
    const { cmd, env } = clientPtCommand(state);
    const client = new Proc("client", cmd, env, true);
    try {
      const [, port] = await client.waitFor(/CMETHOD sctp socks5 127\.0\.0\.1:(\d+)/);
      // echo_server listens on SCTP port 7 and echoes whole messages of up to 10,240 bytes.
      const conn = await socks5Connect(Number(port), "127.0.0.1", echoUdp, [
        ["sctp-port", "7"],
        ["max-message", "8192"],
      ]);
      const payload = new Uint8Array(1_000_000);
      for (let off = 0; off < payload.length; off += 65536) {
        crypto.getRandomValues(payload.subarray(off, off + 65536));
      }
      // Bytes that never come back fail the test instead of hanging it.
      const deadline = setTimeout(() => conn.close(), 60_000);
      const reading = (async () => {
        const got = new Uint8Array(payload.length);
        let n = 0;
        const buf = new Uint8Array(65536);
        while (n < got.length) {
          const r = await conn.read(buf);
          if (r === null) break;
          got.set(buf.subarray(0, Math.min(r, got.length - n)), n);
          n += r;
        }
        return { got, n };
      })();
      for (let off = 0; off < payload.length; off += 30_000) {
        await conn.write(payload.subarray(off, off + 30_000));
      }
      const { got, n } = await reading;
      clearTimeout(deadline);
      conn.close();
      assertEquals(n, payload.length);
      assertEquals(await sha256Hex(got), await sha256Hex(payload));
    } catch (e) {
      console.error(
        `--- client\n${client.output.slice(-3000)}\n--- echo_server\n${echo.output.slice(-2000)}`,
      );
      throw e;
    } finally {
      await client.stop();
      await echo.stop();
      await Deno.remove(state, { recursive: true });
    }
  },
});

Deno.test({
  name: "sctp:interop usrsctp's client program talks through our server to its ORPort",
  ignore: !HAVE_USRSCTP,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const orPort = freeTcpPort();
    const or = Deno.listen({ hostname: "127.0.0.1", port: orPort });
    const echoing = (async () => {
      for await (const c of or) c.readable.pipeTo(c.writable).catch(() => {});
    })().catch(() => {});
    const serverUdp = freeUdpPort();
    const state = await Deno.makeTempDir({ prefix: "sctp-interop-" });
    const { cmd, env } = serverCommand(`127.0.0.1:${serverUdp}`, `127.0.0.1:${orPort}`, state);
    const server = new Proc("server", cmd, env, true);
    let peer: Proc | null = null;
    try {
      await server.waitFor(new RegExp(`SMETHOD sctp 127\\.0\\.0\\.1:${serverUdp}`));
      await server.waitFor(/SMETHODS DONE/);
      const lines = Array.from({ length: 20 }, (_, i) => `line ${i} ${crypto.randomUUID()}\n`);
      // usrsctp's client: remote address, SCTP port, local SCTP port, local UDP, remote UDP.
      peer = new Proc(
        "usrsctp client",
        [
          `${USRSCTP}/client`,
          "127.0.0.1",
          String(serverUdp),
          "0",
          String(freeUdpPort()),
          String(serverUdp),
        ],
        undefined,
        true,
      );
      const w = peer.child.stdin.getWriter();
      await w.write(new TextEncoder().encode(lines.join("")));
      // SCTP has no half-close: the echo must be back before the client's SHUTDOWN.
      await peer.waitFor(new RegExp(lines.at(-1)!.trim()));
      await w.close();
      await peer.waitFor(/SCTP_SHUTDOWN_COMP/);
      const echoed = peer.output.split("\n").filter((l) => l.startsWith("line "));
      assertEquals(echoed.join("\n") + "\n", lines.join(""));
      const m = await server.waitFor(/sctp stream \d+ closed: (\d+) bytes up, (\d+) down/);
      assertEquals(Number(m[1]), lines.join("").length);
      assertEquals(Number(m[2]), lines.join("").length);
    } catch (e) {
      console.error(
        `--- server\n${server.output.slice(-3000)}\n--- peer\n${peer?.output.slice(-2000)}`,
      );
      throw e;
    } finally {
      await peer?.stop();
      await server.stop();
      or.close();
      await echoing;
      await Deno.remove(state, { recursive: true });
    }
  },
});
