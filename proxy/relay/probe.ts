/**
 * The NAT probe (docs/proxy.md): offer a data channel to the probe server (the broker's
 * `/probe`), which answers from behind a symmetric NAT. If the channel opens within the
 * data-channel timeout our NAT lets any peer in ("unrestricted"), otherwise "restricted".
 *
 * @module
 */
import {
  decodeAnswerRequest,
  deserializeSessionDescription,
  encodeProxyPollResponse,
  type NatType,
  serializeSessionDescription,
  STATUS_CLIENT_MATCH,
} from "../../lib/snowflake/messages.ts";
import {
  closePeer,
  gatherLocalDescription,
  type PeerConnectionConfig,
  sleep,
  stripLocalCandidates,
  type Timers,
  type WebRTC,
} from "../../lib/snowflake/webrtc.ts";
import { postText } from "./http.ts";

const PROBE_LINGER_MS = 250;

/** What a probe needs. */
export interface ProbeEnv {
  webrtc: WebRTC;
  timers: Timers;
  fetch: typeof fetch;
  peerConfig: PeerConnectionConfig;
  keepLocalAddresses: boolean;
  /** How long the channel may take to open. */
  openTimeoutMs: number;
  /** Aborts the HTTP request and the wait. */
  signal?: AbortSignal;
}

/**
 * Runs one probe against `probeURL`. Resolves "unrestricted" or "restricted"; rejects when the
 * probe server could not be asked (the caller keeps the type it had).
 */
export async function probeNATType(env: ProbeEnv, probeURL: string): Promise<NatType> {
  const pc = env.webrtc.newPeerConnection(env.peerConfig);
  try {
    const channel = pc.createDataChannel("test");
    let onOpen = () => {};
    const opened = new Promise<void>((resolve) => (onOpen = resolve));
    channel.addEventListener("open", onOpen);
    const offer = await gatherLocalDescription(pc, await pc.createOffer(), 10_000, env.timers);
    const sdp = env.keepLocalAddresses ? offer.sdp : stripLocalCandidates(offer.sdp);
    const body = encodeProxyPollResponse({
      status: STATUS_CLIENT_MATCH,
      offer: serializeSessionDescription({ type: "offer", sdp }),
    });
    const reply = await postText(env.fetch, probeURL, body, env.signal);
    const answer = deserializeSessionDescription(decodeAnswerRequest(reply).answer);
    await pc.setRemoteDescription(answer);
    let timer: unknown;
    let onAbort = () => {};
    const outcome = new Promise<"late" | "aborted">((resolve) => {
      timer = env.timers.setTimeout(() => resolve("late"), env.openTimeoutMs);
      onAbort = () => resolve("aborted");
      env.signal?.addEventListener("abort", onAbort);
    });
    const result = await Promise.race([opened.then(() => "open" as const), outcome]);
    env.timers.clearTimeout(timer);
    env.signal?.removeEventListener("abort", onAbort);
    channel.removeEventListener("open", onOpen);
    if (result === "aborted") throw new Error("stopped");
    if (result === "late") return "restricted";
    // Our side opens as soon as SCTP is up; give the probe server a moment to see the channel
    // too before we close, so its own count agrees with ours.
    await sleep(PROBE_LINGER_MS, env.timers);
    return "unrestricted";
  } finally {
    closePeer(pc);
  }
}
