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
  stripLocalCandidates,
  type Timers,
  type WebRTC,
} from "../../lib/snowflake/webrtc.ts";
import { postText } from "./http.ts";

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
    const timedOut = new Promise<boolean>((resolve) => {
      timer = env.timers.setTimeout(() => resolve(true), env.openTimeoutMs);
      env.signal?.addEventListener("abort", () => resolve(true));
    });
    const late = await Promise.race([opened.then(() => false), timedOut]);
    env.timers.clearTimeout(timer);
    channel.removeEventListener("open", onOpen);
    return late ? "restricted" : "unrestricted";
  } finally {
    closePeer(pc);
  }
}
