/**
 * `deno task bench sctp`: one stream's throughput through the sctp transport, beside
 * usrsctp's own `tsctp` on the same path (two namespaces, a veth) and the snowflake
 * transport in its own chain (tests/client/chain.ts), and the two SCTP candidates measured
 * in one process over UDP loopback (README: sctp transport, "Choosing the SCTP stack").
 *
 * Run as a script with `werift` or `usrsctp` it is one candidate's measurement.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { NsPair } from "../client/netns.ts";
import { SctpChain } from "../sctp/chain.ts";
import { CAN_NETNS, DENO, USRSCTP } from "../sctp/peers.ts";

const FILE = 50_000_000;
const CANDIDATE_BYTES = 50_000_000;
const TSCTP_SECONDS = 5;

const mbps = (bytes: number, seconds: number) => (bytes / seconds / 1e6).toFixed(1);

/** The werift-sctp candidate: two associations' ends in this process over Deno UDP. */
async function weriftCandidate(): Promise<number> {
  const { SCTP } = await import("werift-sctp");
  type Transport = import("werift-sctp").Transport;
  const udp = (sock: Deno.DatagramConn, port: number): Transport => {
    const t: Transport = {
      send: async (buf: Buffer) => {
        await sock.send(buf, { transport: "udp", hostname: "127.0.0.1", port });
      },
      close: () => sock.close(),
    };
    (async () => {
      for await (const [data] of sock) t.onData?.(Buffer.from(data));
    })().catch(() => {});
    return t;
  };
  const a = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const b = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const server = SCTP.server(udp(a, (b.addr as Deno.NetAddr).port));
  const client = SCTP.client(udp(b, (a.addr as Deno.NetAddr).port));
  let got = 0;
  const done = new Promise<void>((resolve) => {
    server.onReceive.subscribe((_sid, _ppid, data) => {
      got += data.length;
      if (got >= CANDIDATE_BYTES) resolve();
    });
  });
  await Promise.all([client.start(5000), server.start(5000)]);
  await client.stateChanged.connected.asPromise();
  const chunk = Buffer.alloc(64 * 1024, 7);
  const t0 = performance.now();
  for (let sent = 0; sent < CANDIDATE_BYTES; sent += chunk.length) {
    await client.send(1, 53, chunk);
    while (client.outboundQueue.length > 256) await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  return CANDIDATE_BYTES / ((performance.now() - t0) / 1000);
}

/** The usrsctp candidate through lib/sctp: a listener and a dialer sharing this process. */
async function usrsctpCandidate(): Promise<number> {
  const { freeUdpPort, listenSctp, SctpDialer } = await import("../../lib/sctp/mod.ts");
  const port = freeUdpPort("127.0.0.1");
  const listener = listenSctp({ hostname: "127.0.0.1", port });
  let got = 0;
  const done = (async () => {
    for await (const conn of listener) {
      for await (const chunk of conn.readable) {
        got += chunk.length;
        if (got >= CANDIDATE_BYTES) return;
      }
    }
  })();
  const conn = await new SctpDialer({ hostname: "127.0.0.1", port }).dial();
  const w = conn.writable.getWriter();
  const chunk = new Uint8Array(64 * 1024);
  const t0 = performance.now();
  for (let sent = 0; sent < CANDIDATE_BYTES; sent += chunk.length) await w.write(chunk);
  await done;
  return CANDIDATE_BYTES / ((performance.now() - t0) / 1000);
}

async function candidate(name: "werift" | "usrsctp"): Promise<string> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--unstable-net", new URL(import.meta.url).pathname, name],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const rate = Number(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1));
  return Number.isFinite(rate) && rate > 0 ? `${(rate / 1e6).toFixed(1)} MB/s` : "failed";
}

/** tsctp from `b` to `a` for a few seconds, 64 KiB messages; bytes per second. */
async function tsctp(net: NsPair): Promise<number> {
  const server = net.spawn(net.a, "tsctp-server", [
    `${USRSCTP}/tsctp`,
    "-E",
    "9911",
    "-R",
    String(2 * 1024 * 1024),
  ]);
  await new Promise((r) => setTimeout(r, 500));
  const out = await net.exec(net.b, [
    `${USRSCTP}/tsctp`,
    "-E",
    "9912",
    "-U",
    "9911",
    "-l",
    "65536",
    "-T",
    String(TSCTP_SECONDS),
    "-S",
    String(2 * 1024 * 1024),
    "-D",
    net.ipA,
  ]);
  await server.stop();
  const m = /Throughput was ([\d.]+) Byte\/sec/.exec(out);
  if (!m) throw new Error(`tsctp printed no throughput:\n${out.slice(-1000)}`);
  return Number(m[1]);
}

/** Snowflake's chain (our client, Debian's proxy, our broker and server), one download. */
async function snowflake(): Promise<string> {
  const { Chain } = await import("../client/chain.ts");
  const chain = await Chain.start({ subnet: 67, fileSize: FILE });
  try {
    chain.debianProxy();
    const client = await chain.ourClient();
    const got = await chain.curl(client.port, "--socks5-hostname");
    if (got.sha256 !== chain.fileSha256) return "corrupt";
    return `${mbps(got.bytes, got.seconds - got.firstByteSeconds)} MB/s from the first byte`;
  } finally {
    await chain.stop();
  }
}

export async function run(): Promise<void> {
  console.log("SCTP candidates, one process, UDP loopback, 50 MB in 64 KiB messages:");
  console.log(`  werift-sctp (TypeScript)      ${await candidate("werift")}`);
  console.log(`  usrsctp FFI (lib/sctp)        ${await candidate("usrsctp")}`);
  if (!CAN_NETNS) {
    console.log("(the namespace benchmarks need root)");
    return;
  }
  const sctp = await SctpChain.start(66, FILE);
  try {
    const rates: string[] = [];
    for (let i = 0; i < 3; i++) {
      const got = await sctp.curl("--socks5-hostname");
      if (got.sha256 !== sctp.fileSha256) throw new Error("sctp download corrupt");
      rates.push(mbps(got.bytes, got.seconds));
    }
    const t = await tsctp(sctp.net);
    console.log("One stream, two namespaces over a veth:");
    console.log(
      `  sctp transport: curl via our client → server → dante → origin, 50 MB: ${
        rates.join(", ")
      } MB/s`,
    );
    console.log(`  tsctp (usrsctp's own tool, same path, ${TSCTP_SECONDS} s): ${mbps(t, 1)} MB/s`);
  } finally {
    await sctp.stop();
  }
  console.log(
    `  snowflake transport (own chain, Debian's proxy): ${await snowflake().catch((e) =>
      `failed: ${(e as Error).message.split("\n")[0]}`
    )}`,
  );
}

if (import.meta.main) {
  const mode = Deno.args[0];
  const rate = mode === "werift"
    ? await weriftCandidate()
    : mode === "usrsctp"
    ? await usrsctpCandidate()
    : NaN;
  console.log(rate);
  Deno.exit(Number.isNaN(rate) ? 2 : 0);
}
