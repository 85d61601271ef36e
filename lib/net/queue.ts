import { ClosedError } from "./errors.ts";

/** Items a queue holds unless its owner chose another finite bound. */
export const DEFAULT_QUEUE_CAPACITY = 1024;

/**
 * A bounded FIFO with an async `shift`. `push` never waits: when the queue is
 * full it returns false and the caller drops the item (packet semantics).
 * The bound is always finite: nothing a peer sends may grow a queue without limit.
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #head = 0;
  #waiters: { resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
  #closed: Error | null = null;

  constructor(readonly capacity = DEFAULT_QUEUE_CAPACITY) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity ${capacity} must be a positive integer`);
    }
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Adds an item; false if the queue is full or closed. */
  push(item: T): boolean {
    if (this.#closed) return false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(item);
      return true;
    }
    if (this.length >= this.capacity) return false;
    this.#items.push(item);
    return true;
  }

  /** Takes an item without waiting, or undefined when empty. */
  tryShift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Waits for an item. Rejects with the close reason once closed and drained. */
  shift(signal?: AbortSignal): Promise<T> {
    if (this.length > 0) return Promise.resolve(this.tryShift()!);
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiters.push(waiter);
      if (!signal) return;
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      waiter.resolve = (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      };
      waiter.reject = (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      };
    });
  }

  /** Closes the queue; pending and future shifts reject once items run out. */
  close(reason: Error = new ClosedError("queue")): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const w of this.#waiters.splice(0)) w.reject(reason);
  }
}
