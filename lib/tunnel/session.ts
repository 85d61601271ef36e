/**
 * One transport session (a key pair from a completed handshake): seals and
 * opens DATA messages with a 64-bit counter nonce and keeps the replay window.
 *
 * @module
 */

import { packetSlab } from "../net/slab.ts";
import { TUNNEL_TAG_LEN, type TunnelCipher } from "./cipher.ts";
import type { TunnelSessionKeys } from "./handshake.ts";
import {
  DATA_HEADER_SIZE,
  KEEPALIVE_SIZE,
  MSG_DATA,
  readCounter,
  writeCounter,
  writeU32,
} from "./messages.ts";
import { TunnelReplayWindow } from "./replay.ts";

export class TunnelSession {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly initiator: boolean;
  readonly createdAt: number;
  readonly replay: TunnelReplayWindow;
  #cipher: TunnelCipher;
  #sendKey: Uint8Array;
  #recvKey: Uint8Array;
  #sendNonce = new Uint8Array(24);
  #recvNonce = new Uint8Array(24);
  #sendCounter = 0;
  #sendLimit: number;

  constructor(
    cipher: TunnelCipher,
    keys: TunnelSessionKeys,
    createdAt: number,
    replayWindow: number,
    rejectAfterMessages: number,
  ) {
    this.#cipher = cipher;
    this.#sendKey = keys.sendKey;
    this.#recvKey = keys.recvKey;
    this.localIndex = keys.localIndex;
    this.remoteIndex = keys.remoteIndex;
    this.initiator = keys.initiator;
    this.createdAt = createdAt;
    this.#sendLimit = rejectAfterMessages;
    this.replay = new TunnelReplayWindow(replayWindow, rejectAfterMessages);
  }

  /** Messages sealed so far (the next counter). */
  get sendCounter(): number {
    return this.#sendCounter;
  }

  /** A DATA message carrying `plain` (empty = keepalive), or null once the counter is spent. */
  seal(plain: Uint8Array): Uint8Array | null {
    const n = this.#sendCounter;
    if (n >= this.#sendLimit) return null;
    this.#sendCounter = n + 1;
    // Slab memory: a new backing store per packet costs more than the sealing (lib/net/slab.ts).
    const len = DATA_HEADER_SIZE + plain.length + TUNNEL_TAG_LEN;
    const out = packetSlab.reserve(len).fill(0, 0, DATA_HEADER_SIZE);
    packetSlab.commit(len);
    out[0] = MSG_DATA;
    writeU32(out, 4, this.remoteIndex);
    writeCounter(out, 8, n);
    this.#sendNonce.set(out.subarray(8, 16));
    this.#cipher.seal(out.subarray(DATA_HEADER_SIZE), plain, this.#sendNonce, this.#sendKey);
    return out;
  }

  /**
   * The plaintext of a DATA message for this session, or null if it does not
   * authenticate. The caller then runs {@link replay}.check(counter).
   */
  open(msg: Uint8Array): Uint8Array | null {
    if (msg.length < KEEPALIVE_SIZE) return null;
    this.#recvNonce.set(msg.subarray(8, 16));
    const out = packetSlab.reserve(msg.length - KEEPALIVE_SIZE);
    packetSlab.commit(out.length);
    return this.#cipher.open(out, msg.subarray(DATA_HEADER_SIZE), this.#recvNonce, this.#recvKey)
      ? out
      : null;
  }

  /** The counter of a DATA message (Infinity beyond 2^53). */
  static counterOf(msg: Uint8Array): number {
    return readCounter(msg, 8);
  }
}
