/** The time source of the tunnel, injectable for tests. @module */

/** Milliseconds since the Unix epoch (only differences matter, except in INIT timestamps). */
export interface TunnelClock {
  now(): number;
}

/** The wall clock. */
export const TUNNEL_SYSTEM_CLOCK: TunnelClock = { now: () => Date.now() };

/** A clock that moves only when told to, for tests. */
export class TunnelManualClock implements TunnelClock {
  constructor(public ms = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
