/**
 * One established session: directional keys, the send counter and the
 * receive replay window.
 *
 * @module
 */

import { open, seal, TAG } from "./crypto.ts";
import type { SessionKeys } from "./handshake.ts";
import { DATA_HEADER, MSG_DATA } from "./wire.ts";
import { ReplayWindow } from "./replay.ts";

export class Session {
  readonly created = Date.now();
  #counter = 0n;
  #window: ReplayWindow;
  #nonce = new Uint8Array(24);
  #rnonce = new Uint8Array(24);
  lastSent = Date.now();
  lastReceived = Date.now();

  constructor(
    readonly localIndex: number,
    readonly remoteIndex: number,
    readonly keys: SessionKeys,
    windowSize: number,
  ) {
    this.#window = new ReplayWindow(windowSize);
  }

  get messagesSent(): bigint {
    return this.#counter;
  }

  /** A DATA message carrying `plain` (empty = keepalive). */
  seal(plain: Uint8Array): Uint8Array {
    const out = new Uint8Array(DATA_HEADER + TAG + plain.length);
    const v = new DataView(out.buffer);
    out[0] = MSG_DATA;
    v.setUint32(4, this.remoteIndex, true);
    v.setBigUint64(8, this.#counter, true);
    new DataView(this.#nonce.buffer).setBigUint64(0, this.#counter, true);
    this.#counter++;
    seal(out.subarray(DATA_HEADER), plain, this.#nonce, this.keys.send);
    this.lastSent = Date.now();
    return out;
  }

  /** Opens a DATA message: the plaintext, "auth" when forged, "replay" when seen or too old. */
  open(msg: Uint8Array): Uint8Array | "auth" | "replay" {
    const counter = new DataView(msg.buffer, msg.byteOffset).getBigUint64(8, true);
    new DataView(this.#rnonce.buffer).setBigUint64(0, counter, true);
    const plain = new Uint8Array(msg.length - DATA_HEADER - TAG);
    if (!open(plain, msg.subarray(DATA_HEADER), this.#rnonce, this.keys.recv)) return "auth";
    if (!this.#window.accept(counter)) return "replay";
    this.lastReceived = Date.now();
    return plain;
  }
}

/** Source and destination of an IPv4 packet as numbers, or null if it is not IPv4. */
export function ipv4Addrs(p: Uint8Array): { src: number; dst: number } | null {
  if (p.length < 20 || p[0]! >> 4 !== 4) return null;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return { src: v.getUint32(12), dst: v.getUint32(16) };
}
