/**
 * Helpers for the Turbo Tunnel integration tests: deterministic payloads and hashing.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Writes `total` pseudo-random bytes to `w` in 32 KiB chunks; returns their sha256 (hex). */
export async function sendRandom(
  w: WritableStreamDefaultWriter<Uint8Array>,
  total: number,
  onProgress?: (sent: number) => void,
): Promise<string> {
  const h = createHash("sha256");
  let sent = 0;
  while (sent < total) {
    const chunk = crypto.getRandomValues(new Uint8Array(Math.min(32 * 1024, total - sent)));
    h.update(chunk);
    await w.write(chunk);
    sent += chunk.length;
    onProgress?.(sent);
  }
  return h.digest("hex");
}

/** Reads `r` to EOF; returns the byte count and sha256 (hex). */
export async function receiveAll(
  r: ReadableStream<Uint8Array>,
  onProgress?: (received: number) => void,
): Promise<{ bytes: number; sha256: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of r) {
    h.update(chunk);
    bytes += chunk.length;
    onProgress?.(bytes);
  }
  return { bytes, sha256: h.digest("hex") };
}

/** Reads exactly `n` bytes from a reader (or fewer at EOF). */
export async function readExactly(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let have = 0;
  while (have < n) {
    const { value, done } = await reader.read();
    if (done) return out.subarray(0, have);
    const take = Math.min(value.length, n - have);
    out.set(value.subarray(0, take), have);
    have += take;
  }
  return out;
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
