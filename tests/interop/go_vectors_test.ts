// codec:go-vectors — our codecs against bytes written by Go Snowflake: the upstream
// encapsulation tests' vectors, and what Debian's snowflake-client 2.5.1 sent our server
// (captured by interop:go-client through tests/interop/go_recorder.ts; regenerate with
// GO_VECTORS_UPDATE=1). No namespace or network needed.
import { assert, assertEquals, assertThrows } from "../../lib/testing/assert.ts";
import { concatBytes } from "../../lib/net/bytes.ts";
import { encodePacket, PacketDecoder } from "../../lib/encapsulation/mod.ts";
import { CMD_ACK, CMD_PUSH, decodePacket, encodeSegment } from "../../lib/kcp/segment.ts";
import {
  SMUX_CMD_NOP,
  SMUX_CMD_SYN,
  SMUX_CMD_UPD,
  SmuxFrameDecoder,
} from "../../lib/smux/frame.ts";
import { TOKEN } from "../../lib/turbotunnel/client_id.ts";

const capture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/go_client_2.5.1_capture.json", import.meta.url)),
) as { clientToServer: string[]; serverToClient: string[] };

const hex = (s: string) => Uint8Array.fromHex(s);

function decodeAll(bytes: Uint8Array): Uint8Array[] {
  const d = new PacketDecoder();
  d.push(bytes);
  d.end();
  const out: Uint8Array[] = [];
  for (let p; (p = d.next()) !== null;) out.push(p.slice());
  return out;
}

Deno.test("codec:go-vectors: upstream encapsulation vectors (non-minimal prefixes, limits, padding)", () => {
  const X = new Uint8Array([0x58]);
  for (const enc of [[0x81, 0x58], [0xc0, 0x01, 0x58], [0xc0, 0x80, 0x01, 0x58]]) {
    assertEquals(decodeAll(new Uint8Array(enc)), [X]);
  }
  const max = new Uint8Array(0xfffff).fill(0x58);
  assertEquals(
    decodeAll(concatBytes([new Uint8Array([0xff, 0xff, 0x7f]), max]))[0]!.length,
    0xfffff,
  );
  // A fourth prefix byte is an error, whatever it encodes.
  assertThrows(() => decodeAll(new Uint8Array([0xc0, 0xc0, 0x80, 0x80, 0x58])), SyntaxError);
  assertThrows(() => decodeAll(new Uint8Array([0xc0, 0x80, 0x80, 0x80])), SyntaxError);
  // Padding of the maximum length is skipped; data after it is read.
  const hello = new TextEncoder().encode("hello");
  const padded = concatBytes([new Uint8Array([0x7f, 0xff, 0x7f]), max, encodePacket(hello)]);
  assertEquals(decodeAll(padded), [hello]);
  assertThrows(() => decodeAll(new Uint8Array([0x40, 0x80, 0x80, 0x80])), SyntaxError);
  // Writers use the minimal prefix.
  assertEquals(encodePacket(X), new Uint8Array([0x81, 0x58]));
  assertEquals(encodePacket(max).subarray(0, 3), new Uint8Array([0xff, 0xff, 0x7f]));
});

Deno.test("codec:go-vectors: the Go client's token and ClientID open its stream", () => {
  const [token, clientId] = capture.clientToServer;
  assertEquals(hex(token!), TOKEN);
  assertEquals(hex(clientId!).length, 8);
});

Deno.test("codec:go-vectors: the Go client's packets decode and re-encode byte for byte", () => {
  const messages = capture.clientToServer.slice(2).map(hex);
  // Everything but the (possibly cut) last message is whole: one encapsulated packet each.
  const whole = messages.slice(0, -1);
  assert(whole.length > 10, `only ${whole.length} messages captured`);
  // The capture starts with ten copies of KCP sn 0 (the smux SYN): the Go client's KCP kept
  // retransmitting into its redial queue while the WebRTC channel was being set up, and sent
  // them all once it opened.
  let conv: number | undefined;
  const frames = new SmuxFrameDecoder(2);
  const pushes = new Map<number, Uint8Array>();
  let acks = 0;
  for (const msg of whole) {
    const packets = decodeAll(msg);
    assertEquals(packets.length, 1, "one packet per data channel message");
    assertEquals(encodePacket(packets[0]!), msg, "our encapsulation writes what Go wrote");
    const segments = decodePacket(packets[0]!);
    assertEquals(concatBytes(segments.map(encodeSegment)), packets[0]!, "KCP segments re-encode");
    for (const seg of segments) {
      conv ??= seg.conv;
      assertEquals(seg.conv, conv, "one KCP conversation");
      if (seg.cmd === CMD_PUSH) pushes.set(seg.sn, seg.data);
      if (seg.cmd === CMD_ACK) acks++;
    }
  }
  assert(acks > 0, "the client acknowledges the server's data");
  // The stream's first bytes (KCP sn 0, 1, ...): smux v2 SYN of stream 3, a NOP keepalive, then
  // window updates as the download arrives.
  for (let sn = 0; pushes.has(sn); sn++) frames.push(pushes.get(sn)!);
  const first = frames.next();
  assert(first, "a smux frame in the first KCP data");
  assertEquals([first.ver, first.cmd, first.sid, first.data.length], [2, SMUX_CMD_SYN, 3, 0]);
  let updates = 0;
  let keepalives = 0;
  for (let f; (f = frames.next()) !== null;) {
    if (f.cmd === SMUX_CMD_NOP) {
      assertEquals([f.sid, f.data.length], [0, 0], "keepalives are session-wide");
      keepalives++;
      continue;
    }
    assertEquals(f.sid, 3);
    if (f.cmd === SMUX_CMD_UPD) updates++;
  }
  assert(keepalives > 0, "the Go client sends a smux keepalive right after opening");
  assert(updates > 0, "the Go client sends smux window updates as it reads");
});
