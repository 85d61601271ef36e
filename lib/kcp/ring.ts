/** A growable FIFO ring (power-of-two capacity) with O(1) push, shift and index. */
export class Ring<T> {
  #a: (T | undefined)[];
  #head = 0;
  #len = 0;

  constructor(capacity = 8) {
    let c = 1;
    while (c < capacity) c <<= 1;
    this.#a = new Array(c);
  }

  get length(): number {
    return this.#len;
  }

  push(item: T): void {
    if (this.#len === this.#a.length) this.#grow();
    this.#a[(this.#head + this.#len) & (this.#a.length - 1)] = item;
    this.#len++;
  }

  shift(): T | undefined {
    if (this.#len === 0) return undefined;
    const item = this.#a[this.#head];
    this.#a[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#a.length - 1);
    this.#len--;
    return item;
  }

  /** The item `i` places from the front; caller keeps `i < length`. */
  at(i: number): T {
    return this.#a[(this.#head + i) & (this.#a.length - 1)]!;
  }

  last(): T | undefined {
    return this.#len === 0 ? undefined : this.at(this.#len - 1);
  }

  clear(): void {
    this.#a = new Array(8);
    this.#head = 0;
    this.#len = 0;
  }

  #grow(): void {
    const old = this.#a;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#len; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#a = next;
    this.#head = 0;
  }
}

/**
 * Slots indexed by sequence number modulo a power-of-two capacity, for the
 * out-of-order receive buffer: O(1) insert, lookup and take. Grows so that
 * every sn in [base, base + span) has its own slot.
 */
export class SnSlots<T extends { sn: number }> {
  #a: (T | undefined)[] = new Array(8);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** Stores `item` unless its sn is already held; false for a duplicate. */
  insert(item: T, base: number): boolean {
    const span = ((item.sn - base) >>> 0) + 1;
    if (span > this.#a.length) this.#grow(span);
    const i = item.sn & (this.#a.length - 1);
    if (this.#a[i] !== undefined) return false;
    this.#a[i] = item;
    this.#count++;
    return true;
  }

  /** Removes and returns the item with this sn, if held. */
  take(sn: number): T | undefined {
    if (this.#count === 0) return undefined;
    const i = sn & (this.#a.length - 1);
    const item = this.#a[i];
    if (item === undefined || item.sn !== sn) return undefined;
    this.#a[i] = undefined;
    this.#count--;
    return item;
  }

  clear(): void {
    this.#a = new Array(8);
    this.#count = 0;
  }

  #grow(span: number): void {
    let c = this.#a.length;
    while (c < span) c <<= 1;
    const next = new Array<T | undefined>(c);
    for (const item of this.#a) if (item !== undefined) next[item.sn & (c - 1)] = item;
    this.#a = next;
  }
}
