/**
 * Standalone mode's far end (docs/client.md): the bridge side of a standalone client runs a
 * SOCKS5 server behind the Snowflake server (where a bridge has its ORPort), so the client
 * replays each local SOCKS4/4a/5 request as a SOCKS5 CONNECT on the session's stream and
 * answers the local application with the outcome.
 *
 * @module
 */
import type { AcceptedSocks, SocksTarget } from "../lib/pt/socks.ts";
import { SOCKS5_REPLY } from "../lib/pt/socks.ts";
import type { Conn } from "../lib/net/types.ts";

/** The far SOCKS5 server refused (its reply code) or broke the protocol. */
export class UpstreamSocksError extends Error {
  override name = "UpstreamSocksError";
  constructor(message: string, readonly code: number = SOCKS5_REPLY.generalFailure) {
    super(message);
  }
}

/** The SOCKS5 greeting (no authentication) and CONNECT request for `target`. */
export function encodeConnect(target: SocksTarget): Uint8Array {
  let addr: number[];
  if (target.kind === "ipv4") addr = [1, ...target.host.split(".").map(Number)];
  else if (target.kind === "ipv6") {
    const url = new URL(`http://[${target.host}]/`).hostname.slice(1, -1);
    const halves = url.split("::");
    const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
    const head = parse(halves[0]!);
    const tail = halves.length > 1 ? parse(halves[1]!) : [];
    const groups = [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail];
    addr = [4, ...groups.flatMap((g) => [g >> 8, g & 0xff])];
  } else {
    const name = new TextEncoder().encode(target.host);
    if (name.length > 255) throw new RangeError("SOCKS5 domain name longer than 255 bytes");
    addr = [3, name.length, ...name];
  }
  return new Uint8Array([5, 1, 0, 5, 1, 0, ...addr, target.port >> 8, target.port & 0xff]);
}

/**
 * Runs the client side of SOCKS5 CONNECT over `conn`. Resolves with any bytes that came
 * after the reply (the far end may answer early); rejects with {@link UpstreamSocksError}.
 */
export async function connectUpstream(
  conn: Conn,
  target: SocksTarget,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const w = conn.writable.getWriter();
  await w.write(encodeConnect(target));
  w.releaseLock();
  const reader = conn.readable.getReader();
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let buf = new Uint8Array(0);
  const need = async (n: number) => {
    while (buf.length < n) {
      const { value, done } = await reader.read();
      if (done) throw new UpstreamSocksError("the far end closed during the SOCKS5 handshake");
      const b = new Uint8Array(buf.length + value.length);
      b.set(buf);
      b.set(value, buf.length);
      buf = b;
    }
  };
  try {
    await need(2);
    if (buf[0] !== 5 || buf[1] !== 0) {
      throw new UpstreamSocksError(`the far SOCKS5 server refused no-auth (${buf[1]})`);
    }
    await need(2 + 5);
    const rep = buf[3]!;
    const atyp = buf[5]!;
    const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + buf[6]! : -1;
    if (buf[2] !== 5 || addrLen < 0) throw new UpstreamSocksError("malformed SOCKS5 reply");
    await need(2 + 4 + addrLen + 2);
    if (rep !== 0) throw new UpstreamSocksError(`the far SOCKS5 server replied ${rep}`, rep);
    return buf.slice(2 + 4 + addrLen + 2);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

/**
 * Reads the application's side from now on: in standalone mode the far SOCKS5 server answers
 * only after a round trip through the proxy (or never, on a session whose server is gone), and
 * the application may leave meanwhile (its timeout, a cancelled page). The returned signal
 * aborts once it closed its side or its connection failed; the returned connection's `readable`
 * holds what it sends before the reply (optimistic data), up to 64 KiB, for the relay.
 */
function watchApplication(socks: AcceptedSocks): [AcceptedSocks, AbortSignal] {
  const left = new AbortController();
  // Room on both sides: with the default readable side (none), the application's EOF would wait
  // for the relay to read before `left` could tell.
  const half = new ByteLengthQueuingStrategy({ highWaterMark: 32768 });
  const early = new TransformStream<Uint8Array, Uint8Array>({}, half, half);
  socks.readable.pipeTo(early.writable).then(
    () => left.abort(new Error("the application closed its connection")),
    (e) => left.abort(e),
  );
  return [{ ...socks, readable: early.readable }, left.signal];
}

/**
 * Answers an accepted SOCKS request over `stream` (the transport's stream to the bridge side):
 * in standalone mode the target is first replayed upstream and its refusal passed back; then
 * the request is granted and any bytes the far end sent early are delivered. Resolves with the
 * connection to relay, or null when the request was refused or, in standalone mode, the
 * application left before the far end answered (the caller then closes the stream at once
 * rather than keep it, with its session and a volunteer's proxy, until smux's keepalive
 * timeout).
 */
export async function grantOver(
  socks: AcceptedSocks,
  stream: Conn,
  mode: "pt" | "standalone",
  log: (line: string) => void,
): Promise<AcceptedSocks | null> {
  let early: Uint8Array = new Uint8Array(0);
  if (mode === "standalone") {
    const [watched, left] = watchApplication(socks);
    socks = watched;
    try {
      early = await connectUpstream(stream, socks.request.target, left);
    } catch (e) {
      if (left.aborted) {
        log(`gone before the far end answered: ${(left.reason as Error).message}`);
        return null;
      }
      const code = e instanceof UpstreamSocksError ? e.code : SOCKS5_REPLY.generalFailure;
      log(`far end: ${(e as Error).message}`);
      await socks.reject(code).catch(() => {});
      return null;
    }
  }
  await socks.grant();
  if (early.length) {
    const w = socks.writable.getWriter();
    await w.write(early);
    w.releaseLock();
  }
  return socks;
}

/** Copies both ways until either direction ends: tor and most applications close both ways. */
export async function relay(
  socks: AcceptedSocks,
  stream: Conn,
  log: (line: string) => void,
): Promise<void> {
  await Promise.race([
    socks.readable.pipeTo(stream.writable),
    stream.readable.pipeTo(socks.writable),
  ]).catch((e) => log(`relay ended: ${(e as Error).message}`));
}
