import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import {
  decodeSmuxUpd,
  encodeSmuxFrame,
  encodeSmuxUpd,
  SMUX_CMD_FIN,
  SMUX_CMD_NOP,
  SMUX_CMD_PSH,
  SMUX_CMD_SYN,
  SMUX_CMD_UPD,
  type SmuxFrame,
  SmuxFrameDecoder,
} from "./frame.ts";

const hex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

// Hand-computed: ver | cmd | len LE16 | sid LE32 | data.
const VECTORS: {
  name: string;
  ver: 1 | 2;
  cmd: number;
  sid: number;
  data: string;
  wire: string;
}[] = [
  { name: "v1 SYN sid 3", ver: 1, cmd: SMUX_CMD_SYN, sid: 3, data: "", wire: "0100000003000000" },
  { name: "v1 FIN sid 3", ver: 1, cmd: SMUX_CMD_FIN, sid: 3, data: "", wire: "0101000003000000" },
  {
    name: "v1 PSH sid 3 'hi'",
    ver: 1,
    cmd: SMUX_CMD_PSH,
    sid: 3,
    data: "6869",
    wire: "01020200030000006869",
  },
  { name: "v1 NOP sid 0", ver: 1, cmd: SMUX_CMD_NOP, sid: 0, data: "", wire: "0103000000000000" },
  {
    name: "v2 SYN sid 0x01020304",
    ver: 2,
    cmd: SMUX_CMD_SYN,
    sid: 0x01020304,
    data: "",
    wire: "0200000004030201",
  },
  {
    name: "v2 FIN sid 0xfffffffe",
    ver: 2,
    cmd: SMUX_CMD_FIN,
    sid: 0xfffffffe,
    data: "",
    wire: "02010000feffffff",
  },
  {
    name: "v2 PSH sid 2, 3 bytes",
    ver: 2,
    cmd: SMUX_CMD_PSH,
    sid: 2,
    data: "aabbcc",
    wire: "0202030002000000aabbcc",
  },
  { name: "v2 NOP", ver: 2, cmd: SMUX_CMD_NOP, sid: 0, data: "", wire: "0203000000000000" },
  {
    // consumed 0x00010000 (65536), window 0x00100000 (1 MiB)
    name: "v2 UPD sid 5 consumed 65536 window 1MiB",
    ver: 2,
    cmd: SMUX_CMD_UPD,
    sid: 5,
    data: "0000010000001000",
    wire: "02040800050000000000010000001000",
  },
];

Deno.test("codec: known-answer frames encode and decode (v1 and v2, all cmds)", () => {
  for (const v of VECTORS) {
    const wire = encodeSmuxFrame(v.ver, v.cmd, v.sid, hex(v.data));
    assertEquals(toHex(wire), v.wire, v.name);
    const d = new SmuxFrameDecoder(v.ver);
    d.push(hex(v.wire));
    const f = d.next();
    assert(f !== null, v.name);
    assertEquals({ ver: f.ver, cmd: f.cmd, sid: f.sid, data: toHex(f.data) }, {
      ver: v.ver,
      cmd: v.cmd,
      sid: v.sid,
      data: v.data,
    }, v.name);
    assertEquals(d.next(), null);
    assertEquals(d.buffered, 0);
  }
});

Deno.test("codec: UPD payload is consumed u32 LE then window u32 LE", () => {
  assertEquals(toHex(encodeSmuxUpd(65536, 1048576)), "0000010000001000");
  assertEquals(toHex(encodeSmuxUpd(0xdeadbeef, 262144)), "efbeadde00000400");
  assertEquals(decodeSmuxUpd(hex("efbeadde00000400")), { consumed: 0xdeadbeef, window: 262144 });
  assertThrows(() => decodeSmuxUpd(hex("00")), SyntaxError, "length 1");
});

Deno.test("codec: a 65535-byte frame is the largest", () => {
  const f = encodeSmuxFrame(2, SMUX_CMD_PSH, 7, new Uint8Array(65535));
  assertEquals(toHex(f.subarray(0, 8)), "0202ffff07000000");
  assertThrows(
    () => encodeSmuxFrame(2, SMUX_CMD_PSH, 7, new Uint8Array(65536)),
    RangeError,
    "65536",
  );
});

Deno.test("codec: decoder reassembles frames across every chunk boundary", () => {
  const wire = new Uint8Array(VECTORS.filter((v) => v.ver === 2).flatMap((v) => [...hex(v.wire)]));
  const want = VECTORS.filter((v) => v.ver === 2).map((v) => `${v.cmd}/${v.sid}/${v.data}`);
  for (let a = 0; a <= wire.length; a++) {
    for (let b = a; b <= wire.length; b++) {
      const d = new SmuxFrameDecoder(2);
      const got: string[] = [];
      const drain = () => {
        for (let f = d.next(); f; f = d.next()) got.push(`${f.cmd}/${f.sid}/${toHex(f.data)}`);
      };
      for (const part of [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]) {
        d.push(part);
        drain();
      }
      assertEquals(got, want, `split at ${a},${b}`);
      assertEquals(d.buffered, 0);
    }
  }
});

Deno.test("codec: byte-at-a-time feeding yields the same frames", () => {
  const data = new Uint8Array(40000).map((_, i) => i * 7);
  const wire = encodeSmuxFrame(1, SMUX_CMD_PSH, 9, data);
  const d = new SmuxFrameDecoder(1);
  let frame: SmuxFrame | null = null;
  for (let i = 0; i < wire.length; i++) {
    d.push(wire.subarray(i, i + 1));
    const f = d.next();
    if (f) frame = f;
    else assert(i < wire.length - 1);
  }
  assert(frame);
  assertEquals(frame.data, data);
});

Deno.test("codec: a payload inside one chunk is a view, not a copy", () => {
  const wire = encodeSmuxFrame(2, SMUX_CMD_PSH, 3, new Uint8Array([1, 2, 3]));
  const d = new SmuxFrameDecoder(2);
  d.push(wire);
  const f = d.next()!;
  assert(f.data.buffer === wire.buffer);
});

Deno.test("codec: protocol errors are SyntaxErrors naming the bad value", () => {
  const cases: [1 | 2, string, string][] = [
    [2, "0100000003000000", "version 1"], // v1 frame to a v2 decoder
    [1, "0200000003000000", "version 2"],
    [2, "0205000003000000", "unknown cmd 5"],
    [2, "02ff000003000000", "unknown cmd 255"],
    [1, "01040800030000000000000000000000", "UPD"], // UPD in v1
    [2, "02040400030000000000000000000000", "length 4"], // short UPD
    [2, "0200010003000000ff", "length 1"], // SYN with data
    [2, "0201010003000000ff", "length 1"], // FIN with data
    [2, "0203010000000000ff", "length 1"], // NOP with data
  ];
  for (const [ver, wire, msg] of cases) {
    const d = new SmuxFrameDecoder(ver);
    d.push(hex(wire));
    assertThrows(() => d.next(), SyntaxError, msg);
  }
});

Deno.test("codec: a header alone is reported as an incomplete frame", () => {
  const d = new SmuxFrameDecoder(2);
  d.push(hex("0202100003000000"));
  assertEquals(d.next(), null);
  assertEquals(d.buffered, 8);
});
