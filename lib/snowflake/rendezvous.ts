/**
 * Rendezvous with the broker (docs/PROTOCOL.md §6–7): one method carries an encoded client poll
 * and returns the broker's reply ({@link RendezvousMethod}: HTTP with domain fronting, AMP
 * cache, SQS); the {@link BrokerChannel} encodes the offer, decodes the answer and applies
 * the {@link NatPolicy}.
 *
 * @module
 */
import {
  decodeClientPollResponse,
  deserializeSessionDescription,
  encodeClientPollRequest,
  type NatType,
  serializeSessionDescription,
  type SessionDescription,
} from "./messages.ts";

/** A way to get one client poll to the broker and its reply back. */
export interface RendezvousMethod {
  /** For logs: "http", "amp", "sqs". */
  readonly name: string;
  /** Sends the encoded poll request; resolves with the encoded poll response. */
  exchange(request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** The broker gave no answer (its error text, e.g. "no snowflake proxies currently available"). */
export class BrokerError extends Error {
  override name = "BrokerError";
}

/**
 * The client's NAT policy (docs/PROTOCOL.md §6): while its NAT type is unknown it claims
 * "unrestricted" (so that the broker may match it with any proxy), until one such attempt
 * fails to open a data channel; from then on it sends its true type.
 */
export class NatPolicy {
  #failedWhileClaiming = false;

  /** What to tell the broker when our NAT type is `actual`. */
  toSend(actual: NatType): NatType {
    return actual === "unknown" && !this.#failedWhileClaiming ? "unrestricted" : actual;
  }

  /** A data channel did not open after we sent `sent` while our NAT type was `actual`. */
  failure(actual: NatType, sent: NatType): void {
    if (actual === "unknown" && sent === "unrestricted") this.#failedWhileClaiming = true;
  }

  /** True once claiming failed. */
  get gaveUpClaiming(): boolean {
    return this.#failedWhileClaiming;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Talks to the broker through one rendezvous method. */
export class BrokerChannel {
  /** Our NAT type as detected (lib/snowflake/nat.ts); "unknown" until then. */
  natType: NatType = "unknown";
  readonly policy = new NatPolicy();

  constructor(
    readonly method: RendezvousMethod,
    /** The bridge's fingerprint ("" = the broker's default bridge). */
    readonly fingerprint = "",
  ) {}

  /**
   * Sends our offer with the NAT type the policy picks; resolves with the proxy's answer and
   * the NAT type that was sent. Broker errors reject with {@link BrokerError}.
   */
  async negotiate(
    offer: SessionDescription,
    signal?: AbortSignal,
  ): Promise<{ answer: SessionDescription; sentNat: NatType; actualNat: NatType }> {
    const actualNat = this.natType;
    const sentNat = this.policy.toSend(actualNat);
    const body = encodeClientPollRequest({
      offer: serializeSessionDescription(offer),
      nat: sentNat,
      fingerprint: this.fingerprint,
    });
    const reply = await this.method.exchange(encoder.encode(body), signal);
    const resp = decodeClientPollResponse(decoder.decode(reply));
    if (resp.error) throw new BrokerError(resp.error);
    return { answer: deserializeSessionDescription(resp.answer!), sentNat, actualNat };
  }
}
