/**
 * Snowflake's rendezvous protocol, shared by the client, the proxy and the broker
 * (docs/BROKER.md).
 *
 * - messages.ts: every broker message — the client poll (1.0 and the legacy bare offer) and
 *   its response, the proxy poll (1.x, Go field names) and its response with `NextPoll`, the
 *   answer and its response, and the SDP JSON wrapping. Pure string codecs whose output is
 *   byte-identical to Go's.
 * - amp.ts: the AMP armor (encode and decode) and the `/amp/client/` path encoding.
 * - amp_cache.ts: rewriting a broker URL into its AMP cache URL.
 * - name_matcher.ts: relay host patterns (`^exact$`, `suffix$`).
 *
 * @example A client poll and the broker's reply.
 * ```ts
 * import {
 *   decodeClientPollRequest, encodeClientPollRequest, encodeClientPollResponse,
 *   serializeSessionDescription,
 * } from "./mod.ts";
 * const offer = serializeSessionDescription({ type: "offer", sdp: "v=0\r\n" });
 * const body = encodeClientPollRequest({ offer, nat: "unrestricted" });
 * const req = decodeClientPollRequest(body); // broker side; fingerprint defaults
 * const reply = encodeClientPollResponse({ error: "no snowflake proxies currently available" });
 * ```
 *
 * @example The same poll through an AMP cache.
 * ```ts
 * import { ampCacheUrl, decodeArmor, encodeAmpPath, encodeClientPollRequest } from "./mod.ts";
 * const body = new TextEncoder().encode(encodeClientPollRequest({ offer: "{}" }));
 * const pub = "https://broker.example/amp/client/" + encodeAmpPath(body);
 * const url = ampCacheUrl(pub, "https://cdn.ampproject.org/");
 * // GET url; then: decodeClientPollResponse(new TextDecoder().decode(decodeArmor(html)))
 * ```
 *
 * @module
 */
export * from "./messages.ts";
export { AMP_CONTENT_TYPE, decodeAmpPath, decodeArmor, encodeAmpPath, encodeArmor } from "./amp.ts";
export { ampCacheUrl, domainPrefix } from "./amp_cache.ts";
export { isValidRule, NameMatcher } from "./name_matcher.ts";
