/**
 * Resume after a 20 s outage against Debian's kcptun (kcp-go + smux): our
 * KCP+smux client sends through kcptun-server to a TCP sink. After a bulk
 * transfer, a 4 KB write goes out just as the path starts dropping everything
 * for 20 s: once with nobody telling the session (it must leave its RTO
 * backoff when kcptun is heard again, e.g. its smux keepalive every 10 s) and
 * once with setPathUp(false/true) around the outage. The data must arrive
 * intact; the time from the path's return to the write reaching the sink is
 * printed.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { seededBytes } from "../../lib/testing/fuzz.ts";
import { freeUdpPort, sha256Hex } from "../../lib/testing/util.ts";
import { type Addr, HostPortAddr, type Packet, type PacketConn } from "../../lib/net/mod.ts";
import { UdpPacketConn } from "../../lib/net/udp.ts";
import { dialKcp } from "../../lib/kcp/mod.ts";
import { SmuxSession } from "../../lib/smux/mod.ts";
import { KCPTUN_KCP, KCPTUN_SMUX, kcptunAvailable, startKcptunServer } from "./kcptun_util.ts";
import { createHash } from "node:crypto";

// kcptun's smux session dies after 30 s without a frame (its KeepAliveTimeout), so an
// outage as long as that races kcptun's own teardown; 20 s is still two keepalive intervals.
const OUTAGE_MS = 20_000;
// A stuck transfer fails the test instead of hanging the suite.
const WAIT_LIMIT_MS = 60_000;
const BULK = 8_000_000;
const SMALL = 4096;
const BYTES = BULK + 2 * SMALL;

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
    "interop:kcptun-resume our sender resumes after two 20 s outages (unsignalled, then setPathUp)",
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
      received >= at ? Promise.resolve() : new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`stuck at ${received} of ${at} bytes`)),
          WAIT_LIMIT_MS,
        );
        waiter = {
          at,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    const kcpPort = freeUdpPort();
    const server = startKcptunServer(kcpPort, tcp.port);
    const path = new SwitchedPacketConn(UdpPacketConn.listen());
    let smux: SmuxSession | null = null;
    try {
      await new Promise((r) => setTimeout(r, 300)); // let kcptun bind
      const kcp = dialKcp(path, new HostPortAddr("udp", "127.0.0.1", kcpPort), KCPTUN_KCP);
      smux = new SmuxSession(kcp, { client: true, config: KCPTUN_SMUX });
      const stream = await smux.openStream();
      const w = stream.writable.getWriter();
      for (let o = 0; o < BULK; o += 16384) {
        await w.write(data.subarray(o, Math.min(o + 16384, BULK)));
      }
      await until(BULK);
      let offset = BULK;
      const outage = async (signal: boolean) => {
        const rto0 = kcp.engine.stats.rtoRetrans;
        path.on = false;
        await w.write(data.subarray(offset, offset + SMALL)); // sent into the void
        offset += SMALL;
        await new Promise((r) => setTimeout(r, 50)); // the loss of the carrier is learnt later
        if (signal) kcp.setPathUp(false);
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        assert(received < offset, "the write should have been caught by the outage");
        path.on = true;
        const back = performance.now();
        if (signal) kcp.setPathUp(true);
        await until(offset);
        const ms = performance.now() - back;
        console.log(
          `${signal ? "with setPathUp" : "unsignalled"}: the 4 KB written into the outage ` +
            `reached the sink ${ms.toFixed(0)} ms after the path came back ` +
            `(${kcp.engine.stats.rtoRetrans - rto0} RTO retransmissions during the outage)`,
        );
      };
      await outage(false);
      await outage(true);
      await w.close();
      const got = await tcp.result;
      assertEquals(got.bytes, BYTES);
      assertEquals(got.hash, await sha256Hex(data));
      assert(kcp.engine.stats.resumeRetrans > 0, "the sender should have resumed");
    } finally {
      smux?.close();
      path.close();
      await server.stop();
    }
  },
});
