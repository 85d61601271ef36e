/**
 * `peers:` the client's proxies.
 * - dialPeer with real @roamhq/wrtc: every failure path (rendezvous error, broker error
 *   answer, aborted dial) closes the peer connection it made (libwebrtc would otherwise keep
 *   the test process alive), and the offer it sends is non-trickle with the channel's label.
 * - ICE gathering does not wait for a blocked STUN server once a working one answered
 *   (coturn in a namespace).
 * - PeerPool with in-memory peers: keeps `max` connected, replaces a dead one at once, backs
 *   off after failures, closes everything on close(), and dials a spare beyond `max` whose
 *   surplus the next close absorbs.
 */
import { assert, assertEquals, assertRejects } from "../../lib/testing/assert.ts";
import {
  BrokerChannel,
  BrokerError,
  type RendezvousMethod,
} from "../../lib/snowflake/rendezvous.ts";
import { decodeClientPollRequest } from "../../lib/snowflake/messages.ts";
import type { PeerConnection, WebRTC } from "../../lib/snowflake/webrtc.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { dialPeer } from "../../client/webrtc_peer.ts";
import { PeerPool, type PoolPeer } from "../../client/peer_pool.ts";
import { CAN_NETNS, DENO, NsPair, ROOT } from "./netns.ts";

/** wrtc, recording every peer connection it makes. */
function recordingWebRTC(): { webrtc: WebRTC; pcs: PeerConnection[] } {
  const pcs: PeerConnection[] = [];
  return {
    pcs,
    webrtc: {
      newPeerConnection(config) {
        const pc = wrtcWebRTC.newPeerConnection(config);
        pcs.push(pc);
        return pc;
      },
    },
  };
}

const closed = (pc: PeerConnection) =>
  (pc as unknown as { signalingState: string }).signalingState === "closed";

function method(exchange: RendezvousMethod["exchange"]): RendezvousMethod {
  return { name: "test", exchange };
}

Deno.test("peers: a failed rendezvous closes the peer connection", async () => {
  const { webrtc, pcs } = recordingWebRTC();
  let offer = "";
  const broker = new BrokerChannel(method((req) => {
    offer = new TextDecoder().decode(req);
    return Promise.reject(new Error("broker unreachable"));
  }));
  await assertRejects(
    () => dialPeer({ webrtc, broker, iceServers: [], keepLocalAddresses: true }),
    Error,
    "broker unreachable",
  );
  assertEquals(pcs.length, 1);
  assert(closed(pcs[0]!));
  const poll = decodeClientPollRequest(offer);
  const sdp = JSON.parse(poll.offer).sdp as string;
  assert(/a=candidate:/.test(sdp), "non-trickle: candidates are in the offer");
  assert(/a=sctp-port|webrtc-datachannel/.test(sdp), "the data channel is negotiated in the offer");
  assertEquals(poll.nat, "unrestricted");
});

Deno.test("peers: a broker error answer closes the peer connection", async () => {
  const { webrtc, pcs } = recordingWebRTC();
  const broker = new BrokerChannel(
    method(() =>
      Promise.resolve(
        new TextEncoder().encode('{"error":"no snowflake proxies currently available"}'),
      )
    ),
  );
  await assertRejects(
    () => dialPeer({ webrtc, broker, iceServers: [], keepLocalAddresses: false }),
    BrokerError,
    "no snowflake proxies",
  );
  assert(closed(pcs[0]!));
});

Deno.test("peers: an aborted dial closes the peer connection", async () => {
  const { webrtc, pcs } = recordingWebRTC();
  const ac = new AbortController();
  const broker = new BrokerChannel(method((_req, signal) =>
    new Promise((_resolve, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      ac.abort(new Error("session closed"));
    })
  ));
  await assertRejects(
    () => dialPeer({ webrtc, broker, iceServers: [], keepLocalAddresses: true, signal: ac.signal }),
    Error,
    "session closed",
  );
  assert(closed(pcs[0]!));
});

/** An in-memory peer for the pool. */
class MemPeer implements PoolPeer {
  isClosed = false;
  closed: Promise<void>;
  #resolve = () => {};
  constructor(readonly id: string) {
    this.closed = new Promise((r) => (this.#resolve = r));
  }
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.#resolve();
  }
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

Deno.test("peers: the pool keeps max peers, replaces a dead one at once, closes all", async () => {
  const made: MemPeer[] = [];
  const pool = new PeerPool((_signal) => {
    const p = new MemPeer(`p${made.length}`);
    made.push(p);
    return Promise.resolve(p);
  }, { max: 3 });
  await tick();
  assertEquals(made.length, 3);
  assertEquals(pool.live, 3);
  const first = await pool.pop();
  first.close();
  await tick();
  assertEquals(made.length, 4, "a replacement is dialed as soon as a peer closes");
  assertEquals(pool.live, 3);
  pool.close();
  assert(made.every((p) => p.isClosed));
  await assertRejects(() => pool.pop());
});

Deno.test("peers: failed dials back off and then succeed", async () => {
  let attempts = 0;
  const times: number[] = [];
  const pool = new PeerPool((_signal) => {
    times.push(Date.now());
    if (++attempts < 3) return Promise.reject(new Error("no proxies"));
    return Promise.resolve(new MemPeer("ok"));
  }, { max: 1, backoffMs: 50 });
  const p = await pool.pop();
  assertEquals(p.id, "ok");
  assertEquals(attempts, 3);
  assertEquals(pool.failures, 2);
  assert(times[2]! - times[1]! >= times[1]! - times[0]!, `backoff grows: ${times}`);
  pool.close();
});

Deno.test("peers: closing the pool aborts a dial in flight and closes what it returns", async () => {
  const late = new MemPeer("late");
  let aborted = false;
  const pool = new PeerPool((signal) =>
    new Promise<MemPeer>((resolve) => {
      signal.addEventListener("abort", () => {
        aborted = true;
        resolve(late);
      });
    }), { max: 1 });
  await tick();
  pool.close();
  await tick();
  assert(aborted);
  assert(late.isClosed);
});

Deno.test({
  name: "peers: a STUN server that does not answer is left out; a reflexive candidate is kept",
  ignore: !CAN_NETNS,
  async fn() {
    const pair = await NsPair.create(39);
    try {
      pair.spawn(pair.a, "coturn", [
        "turnserver",
        "-n",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--stun-only",
        "--listening-ip",
        pair.ipA,
        "--listening-port",
        "3478",
        "--log-file",
        "stdout",
        "--pidfile",
        `${pair.dir}/coturn.pid`,
        "--db",
        `${pair.dir}/turndb`,
      ]);
      await new Promise((r) => setTimeout(r, 1000));
      const live = `stun:${pair.ipA}:3478`;
      const blocked = `stun:${pair.ipA}:3999`;
      const probe = async (...args: string[]) =>
        JSON.parse(
          await pair.exec(pair.b, [
            DENO,
            "run",
            "--allow-all",
            `${ROOT}/tests/client/gather_probe.ts`,
            ...args,
          ]),
        ) as {
          answering: string[];
          reflexive: string[];
          ms: number;
          srflx: boolean;
          host: boolean;
          tcp: boolean;
        };
      const r = await probe(live, blocked);
      console.log(`answering ${JSON.stringify(r.answering)}; offer gathered in ${r.ms} ms`);
      assertEquals(r.answering, [live]);
      // No NAT: the server saw the host address, so libwebrtc signals no reflexive candidate
      // and gathering ends on the host candidates (lib/snowflake/gather.ts); TCP ones left out.
      assertEquals(r.reflexive, [pair.ipB]);
      assertEquals(r.srflx, false);
      assert(r.host, "the host candidate is in the offer");
      assertEquals(r.tcp, false);
      // Behind a NAT that picks a new port (nftables fully-random), the reflexive candidate
      // from the answering server makes it into the offer.
      await pair.exec(
        pair.b,
        ["nft", "-f", "-"],
        `table ip sfnat {
  chain post { type nat hook postrouting priority 100; oifname "vb" meta l4proto udp masquerade fully-random; }
}
`,
      );
      const natted = await probe(live, blocked);
      console.log(`behind NAT: offer gathered in ${natted.ms} ms, srflx ${natted.srflx}`);
      assert(natted.srflx, "the reflexive candidate is in the offer");
    } finally {
      await pair.delete();
    }
  },
});

Deno.test("peers: a spare goes beyond max, and the first close after it is not replaced", async () => {
  const made: MemPeer[] = [];
  const pool = new PeerPool((_signal) => {
    const p = new MemPeer(`p${made.length}`);
    made.push(p);
    return Promise.resolve(p);
  }, { max: 2 });
  await tick();
  const a = await pool.pop();
  const b = await pool.pop();
  const spare = await pool.spare(new AbortController().signal);
  assertEquals([made.length, pool.live], [3, 3]);
  a.close();
  await tick();
  assertEquals([made.length, pool.live], [3, 2], "still max live: nothing dialed");
  b.close();
  await tick();
  assertEquals([made.length, pool.live], [4, 2], "below max: a replacement");
  pool.close();
  assert(spare.isClosed && made.every((p) => p.isClosed));
});
