/**
 * Waiting proxies ordered by load: a binary min-heap on (clients, arrival), so the least
 * busy proxy is matched first and equally busy ones in the order they polled. Entries know
 * their position, so a proxy whose poll times out or disconnects leaves in O(log n).
 *
 * @module
 */

/** What the heap needs from an entry. */
export interface HeapEntry {
  readonly clients: number;
  readonly seq: number;
  /** Position in the heap, -1 when not in one. Owned by the heap. */
  heapIndex: number;
}

function less(a: HeapEntry, b: HeapEntry): boolean {
  return a.clients < b.clients || (a.clients === b.clients && a.seq < b.seq);
}

export class ProxyHeap<T extends HeapEntry> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** Every entry, in heap (not sorted) order. */
  values(): readonly T[] {
    return this.#items;
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  /** Removes and returns the least loaded entry, or undefined when empty. */
  pop(): T | undefined {
    const top = this.#items[0];
    if (top) this.remove(top);
    return top;
  }

  /** Removes `item` if it is in this heap. */
  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0 || this.#items[i] !== item) return;
    const last = this.#items.pop()!;
    item.heapIndex = -1;
    if (i === this.#items.length) return;
    this.#items[i] = last;
    last.heapIndex = i;
    this.#down(i);
    this.#up(last.heapIndex);
  }

  #swap(i: number, j: number): void {
    const a = this.#items[i]!;
    const b = this.#items[j]!;
    this.#items[i] = b;
    this.#items[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(this.#items[i]!, this.#items[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && less(this.#items[l]!, this.#items[m]!)) m = l;
      if (r < n && less(this.#items[r]!, this.#items[m]!)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
