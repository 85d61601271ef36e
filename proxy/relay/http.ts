/** The proxy's HTTP exchanges with the broker and the probe server. @module */

/** The most the proxy reads from a broker reply, as Go's proxy (readLimit). */
export const READ_LIMIT = 100_000;

/** POSTs `body` and returns the reply text; rejects on a non-200 status or an oversize reply. */
export async function postText(
  fetchFn: typeof fetch,
  url: string,
  body: string,
  signal?: AbortSignal,
): Promise<string> {
  const res = await fetchFn(url, { method: "POST", body, signal });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${new URL(url).pathname} returned status ${res.status}`);
  }
  const text = await res.text();
  if (text.length > READ_LIMIT) throw new RangeError(`reply longer than ${READ_LIMIT} bytes`);
  return text;
}
