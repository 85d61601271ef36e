/**
 * The latest `client_ip` a proxy reported for each ClientID (PROTOCOL.md §5), so a stream
 * that connects later can report USERADDR. Entries expire after a period without use.
 *
 * @module
 */

// Implementation constants.
/** Forget a ClientID's address after this long without a connection or lookup. */
export const CLIENT_IP_TTL_MS = 10 * 60_000;

export class ClientIPs {
  #map = new Map<string, { ip: string; seen: number }>();
  #ttl: number;
  #now: () => number;
  #timer: ReturnType<typeof setInterval>;

  constructor(ttlMs = CLIENT_IP_TTL_MS, now: () => number = Date.now) {
    this.#ttl = ttlMs;
    this.#now = now;
    this.#timer = setInterval(() => this.sweep(), Math.max(1000, ttlMs / 2));
    Deno.unrefTimer(Number(this.#timer));
  }

  set(clientId: string, ip: string): void {
    this.#map.delete(clientId); // re-insert so the Map stays ordered by last use
    this.#map.set(clientId, { ip, seen: this.#now() });
  }

  get(clientId: string): string | undefined {
    const e = this.#map.get(clientId);
    if (e) e.seen = this.#now();
    return e?.ip;
  }

  get size(): number {
    return this.#map.size;
  }

  sweep(): void {
    const cutoff = this.#now() - this.#ttl;
    for (const [k, e] of this.#map) if (e.seen < cutoff) this.#map.delete(k);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
