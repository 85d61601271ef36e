/**
 * Non-trickle ICE gathering that stops once what was gathered is all that can be useful
 * (docs/client.md "ICE gathering"). libwebrtc reports "complete" only after its TCP phase (~100 ms
 * in) and after every socket's STUN request was answered or timed out: its loopback sockets
 * never reach a remote STUN server, so that can take seconds, and a censor's dropped STUN
 * server takes ~10 s. And when a STUN server sees the address a socket is bound to (no NAT),
 * libwebrtc signals no server-reflexive candidate at all, so waiting for one is waiting for
 * nothing.
 *
 * So gathering ends as soon as every IPv4 host candidate (UDP, not loopback or link-local) is
 * covered: a server-reflexive candidate based on it arrived, or a STUN probe of our own saw that
 * very address (`reflexive`: no NAT in the way), or no STUN server is in use. With several
 * interfaces of which only some are covered, it ends {@link COVERED_SETTLE_MS} after the first;
 * with none covered, {@link QUIET_MS} after the last candidate; at the latest after `timeoutMs`.
 * TCP candidates are left out: libwebrtc's come ~100 ms later and only as passive ones, and a
 * pion (Go) or browser peer cannot use them.
 *
 * @module
 */
import type { PeerConnection, SessionDescription, Timers } from "./webrtc.ts";
import { globalTimers } from "./webrtc.ts";

/** With only some interfaces covered, the wait after the first one was. */
export const COVERED_SETTLE_MS = 100;
/** With none covered, the wait after the last candidate. */
export const QUIET_MS = 1_000;

/** Options for {@link gatherUsable}. */
export interface GatherOptions {
  /** Whether STUN servers are configured (and answered our own probe). */
  stun: boolean;
  /** Our own addresses as the STUN servers saw them (lib/snowflake/nat.ts stunMappedAddress). */
  reflexive: readonly string[];
  /** The latest end. */
  timeoutMs: number;
  timers?: Timers;
}

/** Parses an `a=candidate` / `candidate:` line: transport, address, type, related address. */
function parseCandidate(line: string): { udp: boolean; ip: string; type: string; raddr: string } {
  const f = line.replace(/^a=/, "").split(" ");
  const at = f.indexOf("raddr");
  return {
    udp: f[2]?.toLowerCase() === "udp",
    ip: f[4] ?? "",
    type: f[f.indexOf("typ") + 1] ?? "",
    raddr: at > 0 ? f[at + 1] ?? "" : "",
  };
}

function routableIPv4(ip: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(ip) && !ip.startsWith("127.") && !ip.startsWith("169.254.");
}

/**
 * Sets `description` as the local description and gathers until the candidates are usable
 * (see the module comment). Returns the local description with what was gathered, TCP
 * candidates removed.
 */
export async function gatherUsable(
  pc: PeerConnection,
  description: { type: string; sdp?: string },
  options: GatherOptions,
): Promise<SessionDescription> {
  const timers = options.timers ?? globalTimers;
  const hosts = new Set<string>();
  const covered = new Set<string>();
  let finish = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  let check: unknown;
  let settle: unknown;
  let quiet: unknown;
  const evaluate = () => {
    check = undefined;
    if (hosts.size === 0) return;
    const done = [...hosts].filter((h) =>
      !options.stun || covered.has(h) || options.reflexive.includes(h)
    );
    if (done.length === hosts.size) return finish();
    if (done.length > 0 && settle === undefined) {
      settle = timers.setTimeout(finish, COVERED_SETTLE_MS);
    }
  };
  const onCandidate = (e: Event) => {
    const c = (e as RTCPeerConnectionIceEvent).candidate;
    if (c === null) return finish();
    const p = parseCandidate(c.candidate);
    if (p.udp && p.type === "host" && routableIPv4(p.ip)) hosts.add(p.ip);
    if (p.type === "srflx") {
      // A hidden base (0.0.0.0) could be any host: count it for all.
      if (routableIPv4(p.raddr)) covered.add(p.raddr);
      else hosts.forEach((h) => covered.add(h));
    }
    timers.clearTimeout(quiet);
    quiet = timers.setTimeout(finish, QUIET_MS);
    // Candidates of one allocation step come in a burst: judge after it.
    check ??= timers.setTimeout(evaluate, 0);
  };
  const onState = () => {
    if (pc.iceGatheringState === "complete") finish();
  };
  const timeout = timers.setTimeout(finish, options.timeoutMs);
  pc.addEventListener("icecandidate", onCandidate);
  pc.addEventListener("icegatheringstatechange", onState);
  try {
    await pc.setLocalDescription(description);
    onState();
    await finished;
  } finally {
    for (const t of [timeout, check, settle, quiet]) timers.clearTimeout(t);
    pc.removeEventListener("icecandidate", onCandidate);
    pc.removeEventListener("icegatheringstatechange", onState);
  }
  const local = pc.localDescription;
  if (!local) throw new Error("no local description after ICE gathering");
  return { type: local.type as SessionDescription["type"], sdp: withoutTcpCandidates(local.sdp) };
}

/** The SDP without `a=candidate` lines of TCP candidates. */
export function withoutTcpCandidates(sdp: string): string {
  return sdp.split(/\r\n/).filter((l) =>
    !(l.startsWith("a=candidate:") && parseCandidate(l).udp === false)
  ).join("\r\n");
}
