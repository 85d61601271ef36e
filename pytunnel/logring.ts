/**
 * The last N log lines of a running pytunnel, with live subscribers (the web
 * page's log tail).
 *
 * @module
 */

/** A bounded ring of log lines; each line gets a sequence number. */
export class LogRing {
  #lines: { seq: number; line: string }[] = [];
  #seq = 0;
  #subscribers = new Set<(seq: number, line: string) => void>();

  constructor(readonly capacity = 500) {}

  push(line: string): void {
    const seq = ++this.#seq;
    this.#lines.push({ seq, line });
    if (this.#lines.length > this.capacity) this.#lines.shift();
    for (const s of this.#subscribers) s(seq, line);
  }

  /** Lines with a sequence number above `after`. */
  since(after = 0): { seq: number; line: string }[] {
    return this.#lines.filter((l) => l.seq > after);
  }

  /** Calls `fn` for every new line until the returned function is called. */
  subscribe(fn: (seq: number, line: string) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }
}
