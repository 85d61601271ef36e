/**
 * Which of the given STUN servers the client keeps (client/transport.ts), the addresses they
 * saw, and how long the offer's ICE gathering then takes, as JSON.
 */
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { closePeer } from "../../lib/snowflake/webrtc.ts";
import { gatherOffer } from "../../client/webrtc_peer.ts";
import { probeIceServers } from "../../client/transport.ts";

const probe = await probeIceServers(Deno.args.map((urls) => ({ urls })), () => {});
const pc = wrtcWebRTC.newPeerConnection({ iceServers: probe.servers });
pc.createDataChannel("snowflake-probe", { ordered: true });
const t0 = performance.now();
const offer = await gatherOffer(pc, probe.servers.length > 0, probe.reflexive);
const ms = performance.now() - t0;
closePeer(pc);
console.log(JSON.stringify({
  answering: probe.servers.map((s) => s.urls),
  reflexive: probe.reflexive,
  ms: Math.round(ms),
  srflx: / typ srflx /.test(offer.sdp),
  host: / typ host /.test(offer.sdp),
  tcp: / tcp \d+ /i.test(offer.sdp),
}));
