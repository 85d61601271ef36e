import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { ClosedError } from "./errors.ts";
import { HostPortAddr } from "./addr.ts";
import { UdpPacketConn } from "./udp.ts";
import { setTcpNoDelayToPort } from "./sockopt.ts";

Deno.test("udp: packets round-trip over loopback with the sender's address", async () => {
  const a = UdpPacketConn.listen();
  const b = UdpPacketConn.listen();
  try {
    await a.writeTo(new Uint8Array([1, 2, 3]), b.localAddr);
    const p = await b.readFrom();
    assertEquals([...p.data], [1, 2, 3]);
    assertEquals(p.addr.toString(), a.localAddr.toString());
    const ac = new AbortController();
    const pending = b.readFrom(ac.signal);
    ac.abort(new Error("stop"));
    await assertRejects(() => pending, Error, "stop");
    await a.writeTo(new Uint8Array([4]), b.localAddr);
    assertEquals([...(await b.readFrom()).data], [4]);
  } finally {
    a.close();
    b.close();
  }
  await assertRejects(() => b.readFrom(), ClosedError);
});

Deno.test("udp: a burst of writes arrives in order", async () => {
  // The sender's default buffer fills up (sends must wait); the receiver's holds the burst.
  const a = UdpPacketConn.listen();
  const b = UdpPacketConn.listen("127.0.0.1", 0, { socketBuffer: 1 << 20 });
  try {
    // The kernel reports double the size asked for, capped by net.core.rmem_max.
    assert(b.socketBuffer !== null && b.socketBuffer > 0, `socketBuffer ${b.socketBuffer}`);
    const n = 300;
    for (let i = 0; i < n; i++) {
      const p = new Uint8Array(1400);
      p[0] = i;
      p[1] = i >> 8;
      a.writeTo(p, b.localAddr);
    }
    let last = -1;
    for (let got = 0; got < n; got++) {
      const ac = AbortSignal.timeout(2000);
      let p;
      try {
        p = await b.readFrom(ac);
      } catch {
        break; // kernel drops are allowed; reordering is not
      }
      const i = p.data[0]! | (p.data[1]! << 8);
      assert(i > last, `packet ${i} after ${last}`);
      last = i;
    }
    assert(last >= 0, "nothing arrived");
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("udp: batched I/O (recvmmsg/sendmmsg) keeps order, addresses and drops oversize", async () => {
  const a = UdpPacketConn.listen("127.0.0.1", 0, { batch: {}, socketBuffer: 1 << 21 });
  const b = UdpPacketConn.listen("127.0.0.1", 0, {
    batch: { maxPacket: 1500 },
    socketBuffer: 1 << 21,
  });
  try {
    assert(a.batched && b.batched, "batched I/O unavailable with --allow-all on Linux");
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const p = new Uint8Array(1 + (i % 1400));
      p[0] = i & 0xff;
      a.writeTo(p, b.localAddr);
    }
    let got = 0;
    let last = -1;
    for (; got < n; got++) {
      let p;
      try {
        p = await b.readFrom(AbortSignal.timeout(2000));
      } catch {
        break; // kernel drops are allowed; reordering and corruption are not
      }
      assertEquals(p.addr.toString(), a.localAddr.toString());
      const i = p.data.length - 1; // n < 1400: the length tells the index
      assert(i > last, `packet ${i} after ${last}`);
      assertEquals(p.data[0], i & 0xff);
      last = i;
    }
    assert(got > 0, "nothing arrived");
    await a.writeTo(new Uint8Array(1501), b.localAddr);
    await a.writeTo(new Uint8Array([9]), b.localAddr);
    assertEquals([...(await b.readFrom(AbortSignal.timeout(2000))).data], [9]);
    assertEquals(b.truncated, 1);
    await b.writeTo(new Uint8Array([5]), a.localAddr);
    assertEquals([...(await a.readFrom(AbortSignal.timeout(2000))).data], [5]);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("udp: batched I/O over IPv6, and IPv4 peers of a dual-stack socket, named as Deno names them", async () => {
  const a = UdpPacketConn.listen("::1", 0, { batch: {} });
  const b = UdpPacketConn.listen("::", 0, { batch: {} });
  const c = UdpPacketConn.listen("127.0.0.1", 0);
  try {
    assert(a.batched && b.batched, "batched I/O unavailable on IPv6 sockets");
    const toB = new HostPortAddr("udp", "::1", b.localAddr.port);
    for (let i = 0; i < 100; i++) a.writeTo(new Uint8Array([i]), toB);
    await new Promise((r) => setTimeout(r, 20)); // all waiting: the first read takes a batch
    const p = await b.readFrom(AbortSignal.timeout(2000));
    assertEquals(p.addr.toString(), `[::1]:${a.localAddr.port}`);
    assertEquals([...p.data], [0]);
    await b.writeTo(new Uint8Array([7]), p.addr);
    assertEquals([...(await a.readFrom(AbortSignal.timeout(2000))).data], [7]);
    // An IPv4 sender reaches the dual-stack socket; the reply goes back through sendmmsg.
    await c.writeTo(new Uint8Array([200]), new HostPortAddr("udp", "127.0.0.1", b.localAddr.port));
    let q = await b.readFrom(AbortSignal.timeout(2000));
    while (q.data[0] !== 200) q = await b.readFrom(AbortSignal.timeout(2000));
    assertEquals(q.addr.toString(), `[::ffff:127.0.0.1]:${c.localAddr.port}`);
    await b.writeTo(new Uint8Array([9]), q.addr);
    const r = await c.readFrom(AbortSignal.timeout(2000));
    assertEquals([...r.data], [9]);
    assertEquals(r.addr.toString(), `127.0.0.1:${b.localAddr.port}`);
  } finally {
    a.close();
    b.close();
    c.close();
  }
});

Deno.test("udp: a screen sees batched datagrams before they are copied and drops what it refuses", async () => {
  const a = UdpPacketConn.listen("127.0.0.1", 0);
  const b = UdpPacketConn.listen("127.0.0.1", 0, { batch: {} });
  try {
    assert(b.batched, "batched I/O unavailable");
    let screened = 0;
    b.screen = (data, source) => {
      screened++;
      return data[0] === 1 && source().toString() === a.localAddr.toString();
    };
    for (const x of [0, 1, 0, 0, 1]) await a.writeTo(new Uint8Array([x]), b.localAddr);
    await new Promise((r) => setTimeout(r, 50));
    assertEquals([...(await b.readFrom(AbortSignal.timeout(2000))).data], [1]);
    assertEquals([...(await b.readFrom(AbortSignal.timeout(2000))).data], [1]);
    assertEquals(screened, 5);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("net: TCP_NODELAY is set on the sockets connected to a port (FFI)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const accepted = await listener.accept();
  try {
    assertEquals(setTcpNoDelayToPort(port), 1);
  } finally {
    conn.close();
    accepted.close();
    listener.close();
  }
});
