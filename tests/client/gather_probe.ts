/**
 * Which of the given STUN servers the client keeps (client/transport.ts) and how long the
 * offer's ICE gathering then takes, as JSON.
 */
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { closePeer } from "../../lib/snowflake/webrtc.ts";
import { gatherOffer } from "../../client/webrtc_peer.ts";
import { answeringIceServers } from "../../client/transport.ts";

const servers = await answeringIceServers(Deno.args.map((urls) => ({ urls })), () => {});
const pc = wrtcWebRTC.newPeerConnection({ iceServers: servers });
pc.createDataChannel("snowflake-probe", { ordered: true });
const t0 = performance.now();
const offer = await gatherOffer(pc, servers.length > 0);
const ms = performance.now() - t0;
closePeer(pc);
console.log(JSON.stringify({
  answering: servers.map((s) => s.urls),
  ms: Math.round(ms),
  srflx: / typ srflx /.test(offer.sdp),
}));
