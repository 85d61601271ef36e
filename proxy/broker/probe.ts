/**
 * The NAT probe answerer (`/probe`, README "Broker"): a proxy posts an offer in the shape of
 * a proxy poll response; we answer it with our own WebRTC peer and reply in the shape of an
 * answer request (sid `stub-sid`). If the proxy's data channel then opens, the proxy calls its
 * NAT "unrestricted". The peer connection stays up at most 20 s waiting for the channel, then
 * at most 5 s more for the proxy to close it, and is closed on every path.
 *
 * @module
 */
import type { Logger } from "../../lib/log/mod.ts";
import {
  decodeProxyPollResponse,
  deserializeSessionDescription,
  encodeAnswerRequest,
  serializeSessionDescription,
} from "../../lib/snowflake/messages.ts";
import {
  closePeer,
  gatherLocalDescription,
  type PeerConnection,
  type PeerConnectionConfig,
  type WebRTC,
} from "../../lib/snowflake/webrtc.ts";
import type { ProbeHandler } from "./http.ts";

/** How long the probe waits for the proxy's data channel to open. */
export const PROBE_OPEN_TIMEOUT_MS = 20_000;
/** How long an open probe channel may stay before the probe closes it. */
export const PROBE_CLOSE_TIMEOUT_MS = 5_000;
/** How long ICE gathering may take before the answer is sent with what was gathered. */
const GATHER_TIMEOUT_MS = 10_000;
/** Probes at once; each holds a peer connection for up to 25 s, so a flood must not pile up. */
export const PROBE_MAX_CONCURRENT = 64;

export interface ProbeOptions {
  /** Loaded lazily so a broker without /probe never loads libwebrtc. */
  webrtc: () => Promise<WebRTC>;
  /** STUN servers for the probe's own candidates. */
  iceServers?: string[];
  log?: Logger;
  /** Called with the outcome of every probe (tests, metrics). */
  onResult?: (opened: boolean) => void;
  /** Probes at once; more get 503. Default {@link PROBE_MAX_CONCURRENT}. */
  maxConcurrent?: number;
  /** Defaults {@link PROBE_OPEN_TIMEOUT_MS} and {@link PROBE_CLOSE_TIMEOUT_MS} (tests shorten them). */
  openTimeoutMs?: number;
  closeTimeoutMs?: number;
}

/** Makes the `/probe` handler. */
export function probeHandler(options: ProbeOptions): ProbeHandler {
  const config: PeerConnectionConfig = options.iceServers?.length
    ? { iceServers: [{ urls: options.iceServers }] }
    : {};
  const maxConcurrent = options.maxConcurrent ?? PROBE_MAX_CONCURRENT;
  let active = 0;
  return async (body) => {
    let offer;
    try {
      offer = deserializeSessionDescription(decodeProxyPollResponse(body).offer);
    } catch {
      return { status: 400, body: "" };
    }
    if (offer.type !== "offer") return { status: 400, body: "" };
    if (active >= maxConcurrent) return { status: 503, body: "" };
    active++;
    let pc: PeerConnection;
    try {
      pc = (await options.webrtc()).newPeerConnection(config);
    } catch (e) {
      active--;
      options.log?.log(`probe: no WebRTC: ${(e as Error).message}`);
      return { status: 500, body: "" };
    }
    let opened = false;
    let closeTimer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    const done = (why: string) => {
      if (finished) return;
      finished = true;
      active--;
      clearTimeout(openTimer);
      clearTimeout(closeTimer);
      closePeer(pc);
      options.log?.log(`probe: ${why}`);
      options.onResult?.(opened);
    };
    const openTimer = setTimeout(
      () => done("data channel did not open"),
      options.openTimeoutMs ?? PROBE_OPEN_TIMEOUT_MS,
    );
    pc.addEventListener("datachannel", (event) => {
      const channel = (event as RTCDataChannelEvent).channel;
      channel.addEventListener("open", () => {
        opened = true;
        clearTimeout(openTimer);
        closeTimer = setTimeout(
          () => done("data channel opened"),
          options.closeTimeoutMs ?? PROBE_CLOSE_TIMEOUT_MS,
        );
      });
      channel.addEventListener("close", () => {
        if (opened) done("data channel opened and closed");
      });
    });
    try {
      await pc.setRemoteDescription(offer);
      const answer = await gatherLocalDescription(pc, await pc.createAnswer(), GATHER_TIMEOUT_MS);
      return {
        status: 200,
        body: encodeAnswerRequest({ sid: "stub-sid", answer: serializeSessionDescription(answer) }),
      };
    } catch (e) {
      done(`cannot answer: ${(e as Error).message}`);
      return { status: 500, body: "" };
    }
  };
}
