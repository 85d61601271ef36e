/**
 * `churn:wire` what a striping client puts on each proxy's wire is upstream's byte stream:
 * our client with `--max 3` over two of Debian's snowflake-proxy and one of ours; a tap
 * between the proxies and the server (tests/client/ws_tap.ts, in the proxies' namespace)
 * records what every proxy relayed. Each WebSocket must carry exactly the Turbo Tunnel token,
 * the session's one ClientID, then encapsulated packets that are all KCP segments of one
 * conversation, and nothing else; at least one of them relayed by Debian's proxy.
 */
import { PacketDecoder } from "../../lib/encapsulation/mod.ts";
import { decodePacket } from "../../lib/kcp/segment.ts";
import { CLIENT_ID_LENGTH, TOKEN } from "../../lib/turbotunnel/mod.ts";
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain, RELAY_HOST, SERVER_PORT } from "./chain.ts";
import { CAN_NETNS, DENO, must, ROOT } from "./netns.ts";

const SIZE = 10_000_000;

/** The binary payload a proxy sent in its WebSocket (after the HTTP upgrade), unmasked. */
function webSocketPayload(raw: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(raw.subarray(0, 4096));
  const headerEnd = text.indexOf("\r\n\r\n");
  assert(headerEnd > 0 && /^GET \S+ HTTP\/1\.1\r\n/.test(text), "an HTTP upgrade first");
  assert(/upgrade: websocket/i.test(text.slice(0, headerEnd)), "a WebSocket upgrade");
  const parts: Uint8Array[] = [];
  let o = headerEnd + 4;
  while (o + 2 <= raw.length) {
    const opcode = raw[o]! & 0x0f;
    const masked = (raw[o + 1]! & 0x80) !== 0;
    let len = raw[o + 1]! & 0x7f;
    o += 2;
    if (len === 126) {
      len = (raw[o]! << 8) | raw[o + 1]!;
      o += 2;
    } else if (len === 127) {
      len = Number(new DataView(raw.buffer, raw.byteOffset + o, 8).getBigUint64(0));
      o += 8;
    }
    assert(masked, "client frames are masked");
    const mask = raw.subarray(o, o + 4);
    o += 4;
    if (o + len > raw.length) break; // the capture ended inside a frame
    const payload = raw.slice(o, o + len);
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    o += len;
    if (opcode === 0 || opcode === 2) parts.push(payload);
    else assert(opcode >= 8, `unexpected frame opcode ${opcode}`);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test({
  name: "churn:wire every proxy of a --max 3 session carries token, ClientID, then KCP only",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 62, fileSize: SIZE });
    const { net } = chain;
    try {
      // The relay name resolves, in the proxies' namespace, to the tap.
      const tapIp = "198.18.62.4";
      await must("ip", ["-n", net.b, "addr", "add", `${tapIp}/24`, "dev", "vb"]);
      await Deno.writeTextFile(
        `/etc/netns/${net.b}/hosts`,
        `127.0.0.1 localhost\n${tapIp} ${RELAY_HOST}\n`,
      );
      const capture = `${net.dir}/capture`;
      await Deno.mkdir(capture);
      net.spawn(net.b, "tap", [
        DENO,
        "run",
        "--allow-net",
        "--allow-write",
        `${ROOT}/tests/client/ws_tap.ts`,
        tapIp,
        String(SERVER_PORT),
        net.ipA,
        String(SERVER_PORT),
        capture,
      ]);
      chain.debianProxy();
      chain.debianProxy();
      chain.ourProxy();
      await chain.waitForProxies(3, 90_000);
      const client = await chain.ourClient(["--max", "3"]);
      const fetching = chain.fetch(client.port, 2_000_000);
      // Which process owns each tapped connection (the tap names files by the proxy's port).
      const owners = new Map<number, string>();
      let done = false;
      const watching = (async () => {
        while (!done) {
          const ss = await net.exec(net.b, ["ss", "-tnpH", "dst", `${tapIp}:${SERVER_PORT}`]);
          for (const line of ss.split("\n")) {
            const m = /:(\d+)\s+\S+:\d+\s+users:\(\("([^"]+)"/.exec(line);
            if (m) owners.set(Number(m[1]), m[2]!);
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      })();
      const got = await fetching;
      done = true;
      await watching;
      assertEquals(got.sha256, chain.fileSha256);
      await client.proc.stop();
      await new Promise((r) => setTimeout(r, 1000));

      const ids = new Set<string>();
      const convs = new Set<number>();
      const relayedBy: string[] = [];
      for (const entry of Deno.readDirSync(capture)) {
        const raw = await Deno.readFile(`${capture}/${entry.name}`);
        const port = Number(/tap-\d+-(\d+)\.bin/.exec(entry.name)![1]);
        const stream = webSocketPayload(raw);
        if (stream.length === 0) continue; // a proxy's probe or an unused connection
        assertEquals(stream.subarray(0, TOKEN.length), TOKEN, `${entry.name}: the token first`);
        const idEnd = TOKEN.length + CLIENT_ID_LENGTH;
        ids.add(Array.from(stream.subarray(TOKEN.length, idEnd)).join(","));
        const decoder = new PacketDecoder();
        decoder.push(stream.subarray(idEnd));
        decoder.end();
        let packets = 0;
        for (let p = decoder.next(); p !== null; p = decoder.next()) {
          for (const s of decodePacket(p)) convs.add(s.conv);
          packets++;
        }
        assert(packets > 0, `${entry.name}: KCP packets after the ClientID`);
        relayedBy.push(`${owners.get(port) ?? "?"} (${packets} packets, ${stream.length} bytes)`);
      }
      console.log(`carriers: ${relayedBy.join("; ")}`);
      assert(relayedBy.length >= 3, `at least 3 carriers: ${relayedBy.join("; ")}`);
      assertEquals(ids.size, 1, "one ClientID on every carrier");
      assertEquals(convs.size, 1, "one KCP conversation");
      assert(relayedBy.some((r) => r.startsWith("snowflake-prox")), "one relayed by Debian's");
    } finally {
      await chain.stop();
    }
  },
});
