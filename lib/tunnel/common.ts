/** Helpers shared by the server and the client cores. @module */

import { ClosedError } from "../net/errors.ts";
import type { Addr } from "../net/types.ts";
import { loadTunnelCipher, type TunnelCipher, type TunnelCipherKind } from "./cipher.ts";
import { decodeTunnelKey } from "./keys.ts";

/** A key given as raw bytes or as base64 text. */
export type TunnelKeyInput = Uint8Array | string;

export function keyBytes(k: TunnelKeyInput, what: string): Uint8Array {
  if (typeof k === "string") {
    try {
      return decodeTunnelKey(k);
    } catch (e) {
      const Kind = (e as Error).constructor as ErrorConstructor;
      throw new Kind(`${what}: ${(e as Error).message}`);
    }
  }
  if (!(k instanceof Uint8Array)) throw new TypeError(`${what} must be bytes or base64 text`);
  if (k.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${k.length}`);
  return k;
}

export function resolveCipher(
  c: TunnelCipher | TunnelCipherKind | undefined,
  log: (line: string) => void,
): Promise<TunnelCipher> {
  if (c && typeof c === "object") return Promise.resolve(c);
  return loadTunnelCipher(c ?? "auto", log);
}

/** The host part of an address ("1.2.3.4:5" → "1.2.3.4"), the key of per-source limits. */
export function hostOf(addr: Addr): string {
  const h = (addr as { hostname?: unknown }).hostname;
  if (typeof h === "string") return h;
  const s = addr.toString();
  const i = s.lastIndexOf(":");
  return i < 0 ? s : s.slice(0, i);
}

/** A random u32 not used as a key of `used`. */
export function freshIndex(used: { has(k: number): boolean }): number {
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (!used.has(buf[0]!)) return buf[0]!;
  }
}

export function b64(k: Uint8Array): string {
  return btoa(String.fromCharCode(...k));
}

/** Swallows write errors of fire-and-forget sends after the core stops. */
export function ignore(): void {}

/**
 * Reads and handles until the source closes or `signal` aborts. Other read
 * errors are logged and retried after a short pause, so a transient socket
 * error does not stop the tunnel.
 */
export async function readLoop<T>(
  read: () => Promise<T>,
  handle: (item: T) => void,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<void> {
  while (!signal.aborted) {
    let item: T;
    try {
      item = await read();
    } catch (e) {
      if (signal.aborted || e instanceof ClosedError) return;
      log(`read failed: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    handle(item);
  }
}
