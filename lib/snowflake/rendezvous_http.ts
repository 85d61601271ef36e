/**
 * HTTP rendezvous (docs/PROTOCOL.md §6–7): `POST <broker>/client` with the poll request as body,
 * through a randomly picked front when fronts are given (TCP and SNI to the front, Host =
 * the broker). A non-200 reply is an error, as in Go.
 *
 * @module
 */
import { frontedRequest, type HttpTransport, pickFront } from "./fronted_http.ts";
import type { RendezvousMethod } from "./rendezvous.ts";

/** Options for {@link HttpRendezvous}. */
export interface HttpRendezvousOptions {
  fronts?: string[];
  /** Extra CA certificates (PEM) to trust, for tests. */
  ca?: string[];
  timeoutMs?: number;
  /** How requests go out (default {@link frontedRequest}: Deno's own TLS). */
  request?: HttpTransport;
  /** Called with the front used for each request (logs). */
  onFront?: (front: string | undefined) => void;
}

/** The broker's `/client` endpoint over HTTP(S), optionally domain-fronted. */
export class HttpRendezvous implements RendezvousMethod {
  readonly name = "http";
  readonly #url: string;

  constructor(brokerUrl: string, readonly options: HttpRendezvousOptions = {}) {
    this.#url = new URL("client", brokerUrl).href;
  }

  async exchange(request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const front = pickFront(this.options.fronts ?? []);
    this.options.onFront?.(front);
    const res = await (this.options.request ?? frontedRequest)({
      method: "POST",
      url: this.#url,
      front,
      body: request,
      ca: this.options.ca,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if (res.status !== 200) {
      throw new Error(`broker replied HTTP ${res.status}: unexpected error, no answer`);
    }
    return res.body;
  }
}
