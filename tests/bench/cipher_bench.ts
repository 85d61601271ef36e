/**
 * XSalsa20-Poly1305 seal+open throughput of the three lib/tunnel cipher
 * implementations on 1400-byte packets (one seal and one open per packet, MB/s
 * of plaintext), plus the end-to-end rate of the in-memory tunnel core and
 * the server's handshake costs. Prints figures; asserts nothing about speed.
 *
 * `deno run -A tests/bench/cipher_bench.ts` or `deno task bench cipher`.
 *
 * @module
 */
import { HostPortAddr } from "../../lib/net/addr.ts";
import { loadTunnelCipher, type TunnelCipher } from "../../lib/tunnel/cipher.ts";
import {
  buildTunnelFloodInitiation,
  generateTunnelPrivateKey,
  memoryTunPair,
  TunnelClient,
  tunnelHandshake,
  TunnelKeyPair,
  TunnelMemoryNetwork,
  tunnelPublicKey,
  TunnelServer,
} from "../../lib/tunnel/mod.ts";

const PACKET = 1400;

function measure(c: TunnelCipher, seconds: number): number {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = new Uint8Array(24);
  const plain = crypto.getRandomValues(new Uint8Array(PACKET));
  const box = new Uint8Array(PACKET + 16);
  const back = new Uint8Array(PACKET);
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) {
      nonce[0] = n & 255;
      nonce[1] = (n >> 8) & 255;
      c.seal(box, plain, nonce, key);
      if (!c.open(back, box, nonce, key)) throw new Error(`${c.name}: open failed`);
      n++;
    }
  }
  return (n * PACKET) / seconds / 1e6;
}

export async function run(): Promise<void> {
  const kinds = ["ffi", "wasm", "noble"] as const;
  const results: { name: string; mbs: number }[] = [];
  for (const k of kinds) {
    let c: TunnelCipher;
    try {
      c = await loadTunnelCipher(k);
    } catch (e) {
      console.log(`${k}: unavailable (${(e as Error).message})`);
      continue;
    }
    measure(c, 0.3); // warm-up
    const mbs = measure(c, 2);
    results.push({ name: c.name, mbs });
    console.log(
      `${c.name.padEnd(16)} ${mbs.toFixed(1).padStart(7)} MB/s  ` +
        `(${((mbs * 1e6) / PACKET / 1000).toFixed(1)}k packets/s seal+open, ${PACKET} B)`,
    );
  }
  const auto = await loadTunnelCipher("auto", (l) => console.log(l));
  const best = results.reduce((a, b) => (b.mbs > a.mbs ? b : a));
  console.log(`default ("auto"): ${auto.name}; fastest measured: ${best.name}`);
  await core(auto);
}

/** Client → server through the whole core on memory twins (no kernel, no sockets). */
async function core(cipher: TunnelCipher): Promise<void> {
  const net = new TunnelMemoryNetwork();
  const sk = generateTunnelPrivateKey();
  const ck = generateTunnelPrivateKey();
  const st = memoryTunPair("s");
  const ct = memoryTunPair("c");
  const addr = new HostPortAddr("udp", "192.0.2.1", 51820);
  const server = new TunnelServer({
    privateKey: sk,
    tunnelIp: "10.9.0.1",
    peers: [{ publicKey: tunnelPublicKey(ck), tunnelIp: "10.9.0.2" }],
    tun: st.device,
    bind: net.bindHostPort(addr.hostname, addr.port),
    cipher,
  });
  const client = new TunnelClient({
    privateKey: ck,
    serverPublicKey: tunnelPublicKey(sk),
    server: addr,
    tun: ct.device,
    bind: net.bindHostPort("198.51.100.2", 40000),
    cipher,
  });
  await server.start();
  await client.start();
  while (!server.stats().peers[0]!.connected) await new Promise((r) => setTimeout(r, 5));
  const pkt = new Uint8Array(PACKET);
  pkt.set([0x45, 0, PACKET >> 8, PACKET & 255, 0, 0, 0, 0, 64, 17, 0, 0, 10, 9, 0, 2, 10, 9, 0, 1]);
  const total = 100_000;
  const t0 = performance.now();
  let got = 0;
  const reader = (async () => {
    while (got < total) {
      await st.host.read();
      got++;
    }
  })();
  for (let i = 0; i < total; i++) {
    ct.host.write(pkt);
    if (i % 256 === 255) await new Promise((r) => setTimeout(r, 0));
  }
  await Promise.race([reader, new Promise((r) => setTimeout(r, 20_000))]);
  const s = (performance.now() - t0) / 1000;
  console.log(
    `core (${cipher.name}, memory twins, one process): ${got}/${total} packets of ${PACKET} B, ` +
      `${(got / s / 1000).toFixed(1)}k packets/s, ${((got * PACKET) / s / 1e6).toFixed(1)} MB/s`,
  );
  const floods = 20_000;
  const spub = tunnelPublicKey(sk);
  const f0 = performance.now();
  for (let i = 0; i < floods; i++) {
    server.receive(buildTunnelFloodInitiation(spub), new HostPortAddr("udp", "10.1.2.3", i));
  }
  const fs = (performance.now() - f0) / 1000;
  console.log(
    `flood: ${(floods / fs / 1000).toFixed(1)}k spoofed INIT/s answered with challenges ` +
      `(dhUnverified ${server.stats().counters.dhUnverified})`,
  );
  await client.stop();
  await server.stop();
  st.host.close();
  ct.host.close();
  handshakes(cipher);
}

/** Server-side handshake work (open INIT, answer it) on one core, cookies and mac1 excluded. */
function handshakes(cipher: TunnelCipher): void {
  const server = TunnelKeyPair.generate();
  const client = TunnelKeyPair.generate();
  const ss = server.dh(client.publicKey)!;
  const inits = Array.from(
    { length: 2000 },
    (_, i) => tunnelHandshake.createInitiation(cipher, client, server.publicKey, i, Date.now()),
  );
  const t0 = performance.now();
  for (const [i, init] of inits.entries()) {
    const rec = tunnelHandshake.consumeInitiation(cipher, server, init.message, () => ss);
    if (typeof rec === "string" || !tunnelHandshake.createResponse(cipher, rec, i)) {
      throw new Error("handshake failed");
    }
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`server handshake crypto: ${(inits.length / s).toFixed(0)} handshakes/s (one core)`);
}

if (import.meta.main) await run();
