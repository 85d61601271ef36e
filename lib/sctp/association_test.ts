import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { NamedAddr } from "../net/addr.ts";
import {
  Association,
  ByteBudget,
  PPID_DATA,
  PPID_FIN,
  PPID_OPEN,
  type SctpStream,
} from "./association.ts";
import { decodeNotification } from "./notification.ts";
import { decodeSockaddr, encodeSockaddr } from "./usrsctp.ts";

/** Two associations wired back to back: what one sends, the other receives, in order. */
function pair(streams = 4) {
  const accepted: SctpStream[] = [];
  const log: [string, number, number][] = [];
  // deno-lint-ignore prefer-const
  let server: Association;
  const client = new Association({
    localAddr: new NamedAddr("sctp", "client"),
    remoteAddr: new NamedAddr("sctp", "server"),
    streams,
    maxMessage: 4,
    send: (sid, ppid, data) => {
      log.push(["up", sid, ppid]);
      const opened = server.receive(sid, ppid, data.slice(), true);
      if (opened) accepted.push(opened);
      return Promise.resolve();
    },
  });
  server = new Association({
    localAddr: new NamedAddr("sctp", "server"),
    remoteAddr: new NamedAddr("sctp", "client"),
    streams,
    send: (sid, ppid, data) => {
      log.push(["down", sid, ppid]);
      client.receive(sid, ppid, data.slice(), false);
      return Promise.resolve();
    },
  });
  return { client, server, accepted, log };
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  for await (const c of s) out += new TextDecoder().decode(c);
  return out;
}

Deno.test("sctp:unit a stream opens with OPEN, splits writes into messages, ends with FIN", async () => {
  const { client, accepted, log } = pair();
  const s = await client.open();
  assertEquals(s.sid, 0);
  assertEquals(accepted.length, 1);
  const w = s.writable.getWriter();
  await w.write(new TextEncoder().encode("hello world"));
  await w.close();
  assertEquals(await readAll(accepted[0]!.readable), "hello world");
  assertEquals(log.map(([d, , p]) => `${d}:${p}`), [
    `up:${PPID_OPEN}`,
    `up:${PPID_DATA}`,
    `up:${PPID_DATA}`,
    `up:${PPID_DATA}`,
    `up:${PPID_FIN}`,
  ]);
});

Deno.test("sctp:unit a stream id is reused only after both sides sent FIN", async () => {
  const { client, accepted } = pair(1);
  const first = await client.open();
  first.close();
  let second: SctpStream | null = null;
  const opening = client.open().then((s) => (second = s));
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(second, null); // the server has not closed its side yet
  accepted[0]!.close();
  await opening;
  assertEquals(second!.sid, 0);
  assertEquals(accepted.length, 2);
});

Deno.test("sctp:unit a failed association fails its streams and waiting opens", async () => {
  const { client, accepted } = pair(1);
  const s = await client.open();
  const waiting = client.open();
  client.fail(new Error("lost"));
  await assertRejects(() => waiting);
  await assertRejects(() => s.readable.getReader().read());
  await assertRejects(() => client.open());
  assert(accepted.length === 1);
});

Deno.test("sctp:unit data for an unknown stream opens it on the server only", () => {
  const { client, server } = pair();
  assertEquals(client.receive(3, PPID_DATA, new Uint8Array([1]), false), null);
  assertEquals(server.receive(3, PPID_FIN, new Uint8Array([0]), true), null);
  assertEquals(server.receive(3, PPID_DATA, new Uint8Array([1]), true)?.sid, 3);
});

Deno.test("sctp:unit unread bytes count against the association's budget until read", async () => {
  const { server } = pair();
  const stream = server.receive(1, PPID_DATA, new Uint8Array(10), true)!;
  server.receive(1, PPID_DATA, new Uint8Array(20), true);
  assertEquals(server.budget.queued, 30);
  const reader = stream.readable.getReader();
  assertEquals((await reader.read()).value?.length, 10);
  assertEquals(server.budget.queued, 20);
  reader.releaseLock();
  stream.close(); // what is left is dropped, and given back
  assertEquals(server.budget.queued, 0);
  server.receive(1, PPID_DATA, new Uint8Array(5), true); // after close: discarded
  assertEquals(server.budget.queued, 0);
});

Deno.test("sctp:unit a budget wakes its waiters once drained to half", async () => {
  const b = new ByteBudget(100);
  b.add(150);
  assert(b.over);
  let woke = false;
  const waiting = b.drained().then(() => (woke = true));
  b.add(-60);
  await Promise.resolve();
  assertEquals(woke, false);
  b.add(-40);
  await waiting;
  assertEquals(woke, true);
});

Deno.test("sctp:unit sockaddrs round-trip; IPv4-mapped IPv6 reads as IPv4", () => {
  assertEquals(decodeSockaddr(encodeSockaddr("192.0.2.7", 9899)), {
    hostname: "192.0.2.7",
    port: 9899,
  });
  assertEquals(decodeSockaddr(encodeSockaddr("2001:db8::1", 443)), {
    hostname: "2001:db8::1",
    port: 443,
  });
  assertEquals(decodeSockaddr(encodeSockaddr("::ffff:10.0.0.1", 7)), {
    hostname: "10.0.0.1",
    port: 7,
  });
});

Deno.test("sctp:unit association change notifications decode; others are ignored", () => {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0x0001, true); // SCTP_ASSOC_CHANGE
  v.setUint16(8, 0x0001, true); // COMM_UP
  v.setUint16(12, 10, true);
  v.setUint32(16, 42, true);
  assertEquals(decodeNotification(b), { kind: "up", assocId: 42, outboundStreams: 10 });
  v.setUint16(8, 0x0002, true);
  assertEquals(decodeNotification(b), { kind: "down", assocId: 42, reason: "lost" });
  v.setUint16(0, 0x0003, true);
  assertEquals(decodeNotification(b), null);
  assertEquals(decodeNotification(new Uint8Array(3)), null);
});
