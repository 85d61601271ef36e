/**
 * Counts the server's handshake Diffie-Hellman operations where they happen
 * (inside `dh()`), split by whether the packet being handled carried a valid
 * cookie (mac2). So `dhUnverified` measures DH work rather than restating the
 * cookie gate: any code path doing DH outside {@link TunnelDhMeter.verified}
 * (before the cookie check, or for an initiation whose mac2 failed) raises it.
 *
 * @module
 */

import { TunnelKeyPair } from "./keys.ts";
import type { TunnelCounters } from "./types.ts";

export class TunnelDhMeter {
  #counters: Pick<TunnelCounters, "dhOperations" | "dhUnverified">;
  #verified = false;

  constructor(counters: Pick<TunnelCounters, "dhOperations" | "dhUnverified">) {
    this.#counters = counters;
  }

  /** Runs `fn` as the handling of a packet whose sender proved its address with a cookie. */
  verified<T>(fn: () => T): T {
    const outer = this.#verified;
    this.#verified = true;
    try {
      return fn();
    } finally {
      this.#verified = outer;
    }
  }

  /** Counts one DH operation. */
  count(): void {
    this.#counters.dhOperations++;
    if (!this.#verified) this.#counters.dhUnverified++;
  }

  /** A key pair whose every `dh()` is counted by this meter. */
  pair(privateKey: Uint8Array): TunnelKeyPair {
    return new MeteredKeyPair(privateKey, this);
  }
}

class MeteredKeyPair extends TunnelKeyPair {
  #meter: TunnelDhMeter;

  constructor(privateKey: Uint8Array, meter: TunnelDhMeter) {
    super(privateKey);
    this.#meter = meter;
  }

  override dh(peer: Uint8Array): Uint8Array | null {
    this.#meter.count();
    return super.dh(peer);
  }
}
