import { assert, assertEquals } from "../testing/assert.ts";
import { gatherUsable, withoutTcpCandidates } from "./gather.ts";
import type { PeerConnection } from "./webrtc.ts";

const HOST = "candidate:1 1 udp 2122260223 198.18.5.2 40000 typ host generation 0";
const LOOPBACK = "candidate:2 1 udp 2122129151 127.0.0.1 40001 typ host generation 0";
const TCP = "candidate:3 1 tcp 1518280447 198.18.5.2 9 typ host tcptype passive generation 0";
const SRFLX =
  "candidate:4 1 udp 1686052607 203.0.113.9 5004 typ srflx raddr 198.18.5.2 rport 40000";

/**
 * A peer connection that emits `candidates` when its local description is set and never
 * reports gathering complete, as libwebrtc does while a loopback socket waits on a STUN server.
 */
function scripted(candidates: string[]): PeerConnection {
  const pc = new EventTarget() as EventTarget & Record<string, unknown>;
  let sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
  pc.iceGatheringState = "gathering";
  pc.setLocalDescription = () => {
    setTimeout(() => {
      for (const c of candidates) {
        sdp += `a=${c}\r\n`;
        const e = new Event("icecandidate") as Event & { candidate: { candidate: string } };
        e.candidate = { candidate: c };
        pc.dispatchEvent(e);
      }
    }, 0);
    return Promise.resolve();
  };
  Object.defineProperty(pc, "localDescription", { get: () => ({ type: "offer", sdp }) });
  return pc as unknown as PeerConnection;
}

// No timing is asserted: a wrong rule would wait for the 60 s timeout and fail the test's
// own time limit instead.
const LONG = 60_000;

Deno.test("webrtc: gathering: a host address the STUN server saw as is ends gathering (no NAT)", async () => {
  const d = await gatherUsable(scripted([HOST, LOOPBACK, TCP]), { type: "offer" }, {
    stun: true,
    reflexive: ["198.18.5.2"],
    timeoutMs: LONG,
  });
  assert(d.sdp.includes("198.18.5.2 40000 typ host"));
  assert(!d.sdp.includes(" tcp "), "TCP candidates are left out");
});

Deno.test("webrtc: gathering: behind a NAT, the reflexive candidate of each host ends gathering", async () => {
  const d = await gatherUsable(scripted([HOST, LOOPBACK, SRFLX]), { type: "offer" }, {
    stun: true,
    reflexive: [],
    timeoutMs: LONG,
  });
  assert(d.sdp.includes("typ srflx"));
});

Deno.test("webrtc: gathering: without STUN servers, host candidates are enough", async () => {
  const d = await gatherUsable(scripted([HOST]), { type: "offer" }, {
    stun: false,
    reflexive: [],
    timeoutMs: LONG,
  });
  assert(d.sdp.includes("typ host"));
});

Deno.test("webrtc: gathering: TCP candidate lines are removed, the rest kept", () => {
  const sdp = ["v=0", `a=${HOST}`, `a=${TCP}`, "a=end-of-candidates", ""].join("\r\n");
  assertEquals(
    withoutTcpCandidates(sdp),
    ["v=0", `a=${HOST}`, "a=end-of-candidates", ""].join("\r\n"),
  );
});
