/**
 * Handshake-class packets wait here while data packets are handled as they
 * are read: a small bounded queue that drops when full, drained a few packets
 * per event-loop turn, so that a flood of initiations costs a read and a
 * length check each and never starves the data path. Its depth is the
 * server's "under load" signal (WireGuard's rule: cookies only under load).
 * A second, smaller lane, drained first, holds what is likely legitimate
 * (initiations carrying a cookie, or from the address of a known peer), so
 * that a spoofed flood filling the main lane does not lock clients out.
 *
 * @module
 */

import type { Addr } from "../net/types.ts";

/** Packets the main lane holds; beyond this they are dropped. */
export const HANDSHAKE_QUEUE_SIZE = 256;
/** Packets the priority lane holds. */
const PRIORITY_QUEUE_SIZE = 64;
/** Packets handled per drain (one event-loop turn). */
const DRAIN_BATCH = 16;

/** One FIFO of bounded size. */
class Lane {
  #items: { data: Uint8Array; from: Addr }[] = [];
  #head = 0;
  constructor(readonly size: number) {}

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(data: Uint8Array, from: Addr): boolean {
    if (this.length >= this.size) return false;
    this.#items.push({ data, from });
    return true;
  }

  shift(): { data: Uint8Array; from: Addr } | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as never;
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

export class TunnelHandshakeQueue {
  #main = new Lane(HANDSHAKE_QUEUE_SIZE);
  #priority = new Lane(PRIORITY_QUEUE_SIZE);
  #scheduled = false;
  #handle: (data: Uint8Array, from: Addr, priority: boolean) => void;

  constructor(handle: (data: Uint8Array, from: Addr, priority: boolean) => void) {
    this.#handle = handle;
  }

  /** Packets waiting in the main lane (the load signal). */
  get length(): number {
    return this.#main.length;
  }

  /** True while the priority lane, or else the main lane, has room for a packet. */
  hasRoom(priority: boolean): boolean {
    const lane = priority ? this.#priority : this.#main;
    return lane.length < lane.size;
  }

  /** Queues a packet; false (the caller counts the drop) when its lane is full. */
  push(data: Uint8Array, from: Addr, priority: boolean): boolean {
    if (!(priority ? this.#priority : this.#main).push(data, from)) return false;
    this.#schedule();
    return true;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => this.#drain(), 0);
  }

  #drain(): void {
    this.#scheduled = false;
    for (let n = 0; n < DRAIN_BATCH; n++) {
      const p = this.#priority.shift();
      const item = p ?? this.#main.shift();
      if (!item) return;
      this.#handle(item.data, item.from, p !== undefined);
    }
    if (this.#priority.length + this.#main.length > 0) this.#schedule();
  }

  clear(): void {
    this.#main.clear();
    this.#priority.clear();
  }
}
