/**
 * WebRTC helpers shared by the Snowflake client and proxy, written against the small part of
 * `RTCPeerConnection` both roles use, so that @roamhq/wrtc (Deno) and the browser's own
 * implementation fit alike. No Deno or Node API here: the binaries inject their adapter
 * (lib/snowflake/webrtc_wrtc.ts), a web page passes {@link browserWebRTC}.
 *
 * - ICE is non-trickle: {@link gatherLocalDescription} waits for gathering to complete.
 * - Local/LAN candidates are stripped ({@link stripLocalCandidates}) unless the user keeps them.
 * - The client's address for `?client_ip=` comes from the remote SDP ({@link remoteIPFromSDP}).
 * - {@link closePeer} never throws, so it can sit on every path.
 *
 * @module
 */

/** A session description (lib/snowflake/messages.ts serializes it for the broker). */
export interface SessionDescription {
  type: "offer" | "answer" | "pranswer" | "rollback";
  sdp: string;
}

/** The part of `RTCDataChannel` the Snowflake roles use. */
export interface DataChannel {
  readonly label: string;
  readonly readyState: "connecting" | "open" | "closing" | "closed";
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/** The part of `RTCPeerConnection` the Snowflake roles use. */
export interface PeerConnection {
  readonly localDescription: { type: string; sdp: string } | null;
  readonly remoteDescription: { type: string; sdp: string } | null;
  readonly iceGatheringState: string;
  readonly connectionState: string;
  createOffer(): Promise<{ type: string; sdp?: string }>;
  createAnswer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(description: { type: string; sdp?: string }): Promise<void>;
  setRemoteDescription(description: SessionDescription): Promise<void>;
  createDataChannel(label: string, init?: { ordered?: boolean }): DataChannel;
  close(): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/** Peer-connection options both implementations understand. */
export interface PeerConnectionConfig {
  iceServers?: { urls: string | string[] }[];
  /** Non-standard (@roamhq/wrtc): the UDP ports ICE may bind, like Go's ephemeral-ports-range. */
  portRange?: { min: number; max: number };
}

/** Makes peer connections: @roamhq/wrtc in the binaries, the browser's in a page. */
export interface WebRTC {
  newPeerConnection(config: PeerConnectionConfig): PeerConnection;
}

/** The browser's own WebRTC (a page, or any runtime with a global `RTCPeerConnection`). */
export const browserWebRTC: WebRTC = {
  newPeerConnection(config) {
    const { portRange: _ignored, ...standard } = config;
    return new RTCPeerConnection(standard) as unknown as PeerConnection;
  },
};

/** The timers the helpers wait on; injectable so a page or a test can bring its own. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** `globalThis`'s timers (Deno and browsers both have them). */
export const globalTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number, timers: Timers = globalTimers): Promise<void> {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}

/** Closes a peer connection; safe to call twice and on a connection that already failed. */
export function closePeer(pc: PeerConnection | null | undefined): void {
  try {
    pc?.close();
  } catch { /* already closed */ }
}

/**
 * Sets `description` as the local description and waits for ICE gathering to complete
 * (non-trickle), or for `timeoutMs` (then whatever was gathered is used, as Go's proxy does
 * so as to answer before the client gives up). Returns the final local description.
 */
export async function gatherLocalDescription(
  pc: PeerConnection,
  description: { type: string; sdp?: string },
  timeoutMs = 10_000,
  timers: Timers = globalTimers,
): Promise<SessionDescription> {
  let onChange = () => {};
  let onCandidate = (_e: Event) => {};
  let timer: unknown;
  const gathered = new Promise<void>((resolve) => {
    onChange = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    onCandidate = (e: Event) => {
      if ((e as RTCPeerConnectionIceEvent).candidate === null) resolve();
    };
    timer = timers.setTimeout(resolve, timeoutMs);
  });
  pc.addEventListener("icegatheringstatechange", onChange);
  pc.addEventListener("icecandidate", onCandidate);
  try {
    await pc.setLocalDescription(description);
    onChange();
    await gathered;
  } finally {
    timers.clearTimeout(timer);
    pc.removeEventListener("icegatheringstatechange", onChange);
    pc.removeEventListener("icecandidate", onCandidate);
  }
  const local = pc.localDescription;
  if (!local) throw new Error("no local description after gathering");
  return { type: local.type as SessionDescription["type"], sdp: local.sdp };
}

function ipv4Octets(ip: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  return o.every((x) => x <= 255) ? o : null;
}

/** True for a textual IPv4 or IPv6 address. */
export function isIPAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return ipv4Octets(h) !== null || (h.includes(":") && /^[0-9a-fA-F:.]+(%.+)?$/.test(h));
}

/**
 * True when an IP address is not reachable from elsewhere on the Internet: RFC 1918, carrier-grade
 * NAT (RFC 6598), link-local, loopback, unspecified, unique-local IPv6 (RFC 4193), IPv6
 * link-local, and IPv4-mapped forms of these. False for anything that is not an IP address.
 */
export function isLocalAddress(address: string): boolean {
  let ip = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) ip = mapped[1]!;
  const o = ipv4Octets(ip);
  if (o) {
    const [a, b] = o as [number, number, number, number];
    return a === 10 || a === 127 || a === 0 || (a === 172 && (b & 0xf0) === 16) ||
      (a === 192 && b === 168) || (a === 100 && (b & 0xc0) === 64) || (a === 169 && b === 254);
  }
  if (!ip.includes(":") || !/^[0-9a-f:.]+$/.test(ip)) return false;
  const groups = expandIPv6(ip);
  if (!groups) return false;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    // IPv4-mapped in hex form, as URL normalizes it (::ffff:a00:1).
    const [hi, lo] = [groups[6]!, groups[7]!];
    return isLocalAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  if (groups.every((g) => g === 0)) return true; // ::
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return true; // ::1
  const first = groups[0]!;
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}

function expandIPv6(ip: string): number[] | null {
  const halves = ip.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const all = [...head, ...Array(fill).fill(0), ...tail];
  return all.some((g) => Number.isNaN(g) || g > 0xffff) ? null : all;
}

/** The connection address of an `a=candidate:` line (or of its value), or null. */
export function candidateAddress(line: string): string | null {
  const value = line.replace(/^a=/, "").replace(/^candidate:/, "");
  const fields = value.trim().split(/\s+/);
  return fields.length >= 8 ? fields[4]! : null;
}

/**
 * Removes ICE candidates whose address is local ({@link isLocalAddress}) or an mDNS name
 * (`*.local`, useless to a peer elsewhere). Everything else is kept byte for byte.
 */
export function stripLocalCandidates(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp.split(eol).filter((line) => {
    if (!line.startsWith("a=candidate:")) return true;
    const address = candidateAddress(line);
    return !(address && (isLocalAddress(address) || address.endsWith(".local")));
  }).join(eol);
}

/**
 * The peer's public IP from a remote SDP, for the relay's `?client_ip=`: the first candidate
 * address that is not local, else the `c=` line's when it is not local; null when none.
 */
export function remoteIPFromSDP(sdp: string): string | null {
  const lines = sdp.split(/\r?\n/);
  for (const line of lines) {
    if (!line.startsWith("a=candidate:")) continue;
    const address = candidateAddress(line);
    if (address && isIPAddress(address) && !isLocalAddress(address)) return address;
  }
  for (const line of lines) {
    const m = /^c=IN IP[46] ([0-9A-Fa-f:.]+)/.exec(line);
    if (m && isIPAddress(m[1]!) && !isLocalAddress(m[1]!)) return m[1]!;
  }
  return null;
}
