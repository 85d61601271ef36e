/**
 * Resume after a 30 s outage against Debian's kcptun (kcp-go + smux): our
 * KCP+smux client sends through kcptun-server to a TCP sink while the path
 * drops everything for 30 s, once with nobody telling the session (it must
 * leave its RTO backoff when kcptun is heard again) and once with
 * setPathUp(false/true) around the outage. The data must arrive intact; the
 * time from the path's return to the next byte at the sink is printed.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { freeUdpPort } from "../../lib/testing/util.ts";
import { type Addr, HostPortAddr, type Packet, type PacketConn } from "../../lib/net/mod.ts";
import { UdpPacketConn } from "../../lib/net/udp.ts";
import { dialKcp } from "../../lib/kcp/mod.ts";
import { SmuxSession } from "../../lib/smux/mod.ts";
import {
  KCPTUN_KCP,
  KCPTUN_SMUX,
  kcptunAvailable,
  sha256Hex,
  startKcptun,
  writeAndClose,
} from "./kcptun_util.ts";
import { createHash } from "node:crypto";

const OUTAGE_MS = 30_000;
const BYTES = 24_000_000;

/** A PacketConn whose path can be cut: while off, nothing is written or read. */
class SwitchedPacketConn implements PacketConn {
  on = true;
  constructor(readonly inner: PacketConn) {}
  get localAddr(): Addr {
    return this.inner.localAddr;
  }
  async readFrom(signal?: AbortSignal): Promise<Packet> {
    for (;;) {
      const p = await this.inner.readFrom(signal);
      if (this.on) return p;
    }
  }
  writeTo(data: Uint8Array, addr: Addr): Promise<void> {
    return this.on ? this.inner.writeTo(data, addr) : Promise.resolve();
  }
  close(): void {
    this.inner.close();
  }
}

/** A TCP sink that hashes one connection and reports each time bytes arrive. */
function sink(onBytes: (total: number) => void) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = (async () => {
    const conn = await listener.accept();
    listener.close();
    const h = createHash("sha256");
    let total = 0;
    for await (const chunk of conn.readable) {
      h.update(chunk);
      total += chunk.length;
      onBytes(total);
    }
    return { hash: h.digest("hex"), bytes: total };
  })();
  return { port: (listener.addr as Deno.NetAddr).port, result };
}

Deno.test({
  name:
    "interop:kcptun-resume our sender resumes at once after two 30 s outages (unsignalled, then setPathUp)",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: !kcptunAvailable(),
  fn: async () => {
    const data = seededBytes(BYTES, 0x7e57);
    let received = 0;
    let waiter: { at: number; resolve: () => void } | null = null;
    const tcp = sink((total) => {
      received = total;
      if (waiter !== null && total >= waiter.at) {
        waiter.resolve();
        waiter = null;
      }
    });
    const until = (at: number) =>
      received >= at ? Promise.resolve() : new Promise<void>((resolve) => {
        waiter = { at, resolve };
      });
    const kcpPort = freeUdpPort();
    const server = startKcptun("kcptun-server", [
      "-l",
      `127.0.0.1:${kcpPort}`,
      "-t",
      `127.0.0.1:${tcp.port}`,
    ]);
    const path = new SwitchedPacketConn(UdpPacketConn.listen());
    let smux: SmuxSession | null = null;
    try {
      await new Promise((r) => setTimeout(r, 300)); // let kcptun bind
      const kcp = dialKcp(path, new HostPortAddr("udp", "127.0.0.1", kcpPort), KCPTUN_KCP);
      smux = new SmuxSession(kcp, { client: true, config: KCPTUN_SMUX });
      const stream = await smux.openStream();
      const writing = writeAndClose(stream.writable, data, 16384);
      const outage = async (signal: boolean) => {
        path.on = false;
        if (signal) kcp.setPathUp(false);
        const stuck = received;
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        const before = received;
        path.on = true;
        const back = performance.now();
        if (signal) kcp.setPathUp(true);
        await until(before + 1);
        const ms = performance.now() - back;
        console.log(
          `${signal ? "with setPathUp" : "unsignalled"}: ${(stuck / 1e6).toFixed(1)} MB in when ` +
            `the path went; next byte at the sink ${ms.toFixed(0)} ms after it came back ` +
            `(RTO retransmissions so far ${kcp.engine.stats.rtoRetrans}, resent on resume ` +
            `${kcp.engine.stats.resumeRetrans})`,
        );
      };
      await until(BYTES / 4);
      await outage(false);
      await until(BYTES / 2);
      await outage(true);
      await writing;
      const got = await tcp.result;
      assertEquals(got.bytes, BYTES);
      assertEquals(got.hash, sha256Hex(data));
      assert(kcp.engine.stats.resumeRetrans > 0, "the sender should have resumed");
    } finally {
      smux?.close();
      path.close();
      await server.stop();
    }
  },
});
