/**
 * The WebRTC adapter of the binaries: @roamhq/wrtc (libwebrtc as a node-API addon; needs
 * `--allow-ffi`). Every peer connection made here must be closed, or the process never exits.
 *
 * @module
 */
import wrtc from "@roamhq/wrtc";
import type { PeerConnection, WebRTC } from "./webrtc.ts";

/** Peer connections from @roamhq/wrtc. */
export const wrtcWebRTC: WebRTC = {
  newPeerConnection(config) {
    return new wrtc.RTCPeerConnection(config as RTCConfiguration) as unknown as PeerConnection;
  },
};
