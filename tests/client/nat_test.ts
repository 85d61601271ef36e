/**
 * `nat:` the client's NAT type detection (RFC 5780 behaviour tests) against Debian's coturn
 * listening on two addresses, from a second namespace joined by a veth pair:
 * - no NAT in between: endpoint-independent mapping → "unrestricted";
 * - the client's namespace masquerades with a random port per destination (nftables
 *   `fully-random`, a symmetric NAT): address-dependent mapping → "restricted";
 * - coturn with --no-rfc5780 (no OTHER-ADDRESS): "unknown", with the reason.
 * Also the STUN codec on known bytes.
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { decodeBindingResponse, encodeBindingRequest } from "../../lib/snowflake/nat.ts";
import { CAN_NETNS, DENO, NsPair, ROOT } from "./netns.ts";

const SECOND = "198.18.20.3";

async function probe(pair: NsPair, server: string) {
  const out = await pair.exec(pair.b, [
    DENO,
    "run",
    "--unstable-net",
    "--allow-net",
    `${ROOT}/tests/client/nat_probe.ts`,
    server,
  ]);
  return JSON.parse(out);
}

function coturn(pair: NsPair, extra: string[] = []) {
  return pair.spawn(pair.a, `coturn${extra.length}`, [
    "turnserver",
    "-n",
    "--no-cli",
    "--no-tls",
    "--no-dtls",
    "--stun-only",
    "--listening-ip",
    pair.ipA,
    "--listening-ip",
    SECOND,
    "--listening-port",
    "3478",
    "--log-file",
    "stdout",
    "--simple-log",
    "--pidfile",
    `${pair.dir}/coturn.pid`,
    "--db",
    `${pair.dir}/turndb`,
    ...extra,
  ]);
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "nat: coturn with two addresses tells an open host from a symmetric NAT",
  ignore: !CAN_NETNS,
  async fn() {
    const pair = await NsPair.create(20, [SECOND]);
    try {
      const server = coturn(pair);
      await wait(1000);
      const open = await probe(pair, `stun:${pair.ipA}:3478`);
      console.log(`no NAT: ${JSON.stringify(open)}`);
      assertEquals(open.type, "unrestricted");
      assertEquals(open.mapping, "endpoint-independent");
      assertEquals(open.filtering, "endpoint-independent");

      await pair.exec(
        pair.b,
        ["nft", "-f", "-"],
        `table ip sfnat {
  chain post { type nat hook postrouting priority 100; oifname "vb" meta l4proto udp masquerade fully-random; }
}
table ip sffilter {
  chain input { type filter hook input priority 0; ct state established,related accept; iifname "vb" meta l4proto udp drop; }
}
`,
      );
      const symmetric = await probe(pair, `stun:${pair.ipA}:3478`);
      console.log(`symmetric NAT: ${JSON.stringify(symmetric)}`);
      assertEquals(symmetric.type, "restricted");
      assertEquals(symmetric.mapping, "address-dependent");
      assertEquals(symmetric.filtering, "address-dependent");
      await server.stop();
    } finally {
      await pair.delete();
    }
  },
});

Deno.test({
  name: "nat: a STUN server without RFC 5780 leaves the type unknown",
  ignore: !CAN_NETNS,
  async fn() {
    const pair = await NsPair.create(21, ["198.18.21.3"]);
    try {
      pair.spawn(pair.a, "coturn", [
        "turnserver",
        "-n",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--stun-only",
        "--no-rfc5780",
        "--listening-ip",
        pair.ipA,
        "--listening-port",
        "3478",
        "--log-file",
        "stdout",
        "--pidfile",
        `${pair.dir}/coturn.pid`,
        "--db",
        `${pair.dir}/turndb`,
      ]);
      await wait(1000);
      const r = await probe(pair, `${pair.ipA}:3478`);
      console.log(`no RFC 5780: ${JSON.stringify(r)}`);
      assertEquals(r.type, "unknown");
      assertEquals(/OTHER-ADDRESS/.test(r.reason), true);
      const silent = await probe(pair, `${pair.ipA}:3999`);
      assertEquals(silent.type, "unknown");
    } finally {
      await pair.delete();
    }
  },
});

Deno.test("nat: STUN Binding request and XOR-MAPPED/OTHER-ADDRESS response codec", () => {
  const tid = new Uint8Array(12).map((_, i) => i + 1);
  const req = encodeBindingRequest(tid, 0x06);
  assertEquals(Array.from(req.subarray(0, 8)), [0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42]);
  assertEquals(Array.from(req.subarray(20)), [0, 3, 0, 4, 0, 0, 0, 6]);
  // A response: XOR-MAPPED-ADDRESS 198.51.100.7:40000, OTHER-ADDRESS 203.0.113.9:3479.
  const xorPort = 40000 ^ 0x2112;
  const xorIp = [198 ^ 0x21, 51 ^ 0x12, 100 ^ 0xa4, 7 ^ 0x42];
  const resp = new Uint8Array([
    1,
    1,
    0,
    24,
    0x21,
    0x12,
    0xa4,
    0x42,
    ...tid,
    0,
    0x20,
    0,
    8,
    0,
    1,
    xorPort >> 8,
    xorPort & 0xff,
    ...xorIp,
    0x80,
    0x2c,
    0,
    8,
    0,
    1,
    3479 >> 8,
    3479 & 0xff,
    203,
    0,
    113,
    9,
  ]);
  const got = decodeBindingResponse(resp, tid)!;
  assertEquals(got.mapped, { hostname: "198.51.100.7", port: 40000 });
  assertEquals(got.other, { hostname: "203.0.113.9", port: 3479 });
  assertEquals(decodeBindingResponse(resp, new Uint8Array(12)), null);
  assertEquals(decodeBindingResponse(resp.subarray(0, 30)), null);
  for (let i = 0; i < 200; i++) {
    const junk = resp.slice();
    junk[20 + (i % 24)] = (i * 37) & 0xff;
    decodeBindingResponse(junk); // never throws
  }
});
