/**
 * AMP cache rendezvous (docs/PROTOCOL.md §7): the poll travels in the path of a GET to the
 * broker's `/amp/client/` endpoint, rewritten to the AMP cache's URL scheme
 * (`https://<prefix>.<cache>/c/s/<broker host>/amp/client/…`), optionally domain-fronted;
 * the reply is the broker's answer armored in AMP HTML. A non-200 reply or a redirect is an
 * error, as in Go.
 *
 * @module
 */
import { decodeArmor, encodeAmpPath } from "./amp.ts";
import { ampCacheUrl } from "./amp_cache.ts";
import { frontedRequest, type HttpTransport, pickFront } from "./fronted_http.ts";
import type { RendezvousMethod } from "./rendezvous.ts";

/** Options for {@link AmpCacheRendezvous}. */
export interface AmpCacheRendezvousOptions {
  fronts?: string[];
  /** Extra CA certificates (PEM) to trust, for tests. */
  ca?: string[];
  timeoutMs?: number;
  /** How requests go out (default {@link frontedRequest}: Deno's own TLS). */
  request?: HttpTransport;
  onFront?: (front: string | undefined) => void;
}

/** Rendezvous through an AMP cache. */
export class AmpCacheRendezvous implements RendezvousMethod {
  readonly name = "amp";

  constructor(
    readonly brokerUrl: string,
    readonly cacheUrl: string,
    readonly options: AmpCacheRendezvousOptions = {},
  ) {
    // Fail at start, not at the first poll, when the cache cannot serve this broker URL.
    ampCacheUrl(new URL("amp/client/", brokerUrl).href, cacheUrl);
  }

  /** The cache URL that carries `request`. */
  url(request: Uint8Array): string {
    const pub = new URL("amp/client/" + encodeAmpPath(request), this.brokerUrl).href;
    return ampCacheUrl(pub, this.cacheUrl);
  }

  async exchange(request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const front = pickFront(this.options.fronts ?? []);
    this.options.onFront?.(front);
    const res = await (this.options.request ?? frontedRequest)({
      method: "GET",
      url: this.url(request),
      front,
      ca: this.options.ca,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if (res.status !== 200 || res.headers.location !== undefined) {
      throw new Error(`AMP cache replied HTTP ${res.status}: unexpected error, no answer`);
    }
    return decodeArmor(new TextDecoder().decode(res.body));
  }
}
