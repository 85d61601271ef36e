/**
 * `wrtc-crash:` @roamhq/wrtc 0.10.0 dies by SIGSEGV when `send()` races the remote closing the
 * channel (docs/client.md "WebRTC in a process of its own"); the client keeps its WebRTC in a
 * host process so that the crash costs proxies, not the client.
 * - The race on a local pair (tests/client/wrtc_send_race.ts) kills a process that runs wrtc
 *   itself (the bug is there); with the writer's WebRTC in a host process it kills hosts, which
 *   are replaced, never the writer, and a last 8 MiB arrive intact.
 * - A host killed mid-transfer: its channels close, the next peer connection gets a new host
 *   and carries 8 MiB intact.
 * - The client binary in the chain, its host killed during a download: the client lives on,
 *   rendezvouses again, and the file arrives intact.
 *
 * The hosts are killed with SIGKILL: V8's signal handler swallows a SIGSEGV sent by kill(2)
 * (only a real fault ends the process), and the client treats any end of its host alike.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { dataChannelConn } from "../../lib/snowflake/datachannel.ts";
import { gatherLocalDescription } from "../../lib/snowflake/webrtc.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import type { IsolatedWebRTC } from "../../lib/snowflake/webrtc_isolated.ts";
import { clientWebRTC } from "../../client/webrtc_process.ts";
import { Chain } from "./chain.ts";
import { CAN_NETNS, DENO, ROOT, waitUntil, webrtcHostOf } from "./netns.ts";

const RACE = `${ROOT}/tests/client/wrtc_send_race.ts`;

async function race(mode: "inprocess" | "isolated", trials: number, messageSize: number) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "--allow-all", RACE, mode, String(trials), String(messageSize)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  return {
    signal: out.signal,
    code: out.code,
    summary: last.startsWith("{") ? JSON.parse(last) : null,
  };
}

Deno.test({
  name: "wrtc-crash: a write racing the remote's close kills a process running @roamhq/wrtc",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const ends: string[] = [];
    // About half the runs crash on an idle machine; a busy one may need more.
    for (let run = 0; run < 16; run++) {
      const r = await race("inprocess", 100, 65536);
      ends.push(r.signal ?? `exit ${r.code}`);
      if (r.signal === "SIGSEGV") break;
    }
    console.log(`in-process runs of 100 trials: ${ends.join(", ")}`);
    assertEquals(ends.at(-1), "SIGSEGV");
  },
});

Deno.test({
  name: "wrtc-crash: the same race with WebRTC in a host process kills hosts, never the writer",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // 16 KiB messages (the client's): the host hands libwebrtc several per read of its link.
    const crashes: number[] = [];
    for (let run = 0; run < 3 && crashes.reduce((a, b) => a + b, 0) === 0; run++) {
      const r = await race("isolated", 150, 16384);
      assertEquals([r.signal, r.code], [null, 0]);
      const s = r.summary;
      assertEquals(s.writeErrors, 150, "every write after the close failed cleanly");
      assert(s.intact, "the last 8 MiB arrived intact");
      for (const end of s.hostEnds) assert(/\(SIGSEGV\)/.test(end), end);
      crashes.push(s.hostEnds.length);
    }
    console.log(`hosts ended by SIGSEGV in runs of 150 trials: ${crashes.join(", ")}`);
    assert(crashes.some((n) => n > 0), "the race was hit");
  },
});

/** A local pair: the conn over the isolated side's channel, the far side's received bytes. */
async function isolatedPair(webrtc: IsolatedWebRTC) {
  const a = webrtc.newPeerConnection({});
  const b = wrtcWebRTC.newPeerConnection({});
  const conn = dataChannelConn(a.createDataChannel("t", { ordered: true }));
  const chunks: Uint8Array[] = [];
  b.addEventListener("datachannel", (e) => {
    const far = (e as RTCDataChannelEvent).channel;
    far.binaryType = "arraybuffer";
    far.addEventListener("message", (m) => chunks.push(new Uint8Array((m as MessageEvent).data)));
  });
  await b.setRemoteDescription(await gatherLocalDescription(a, await a.createOffer(), 2000));
  await a.setRemoteDescription(await gatherLocalDescription(b, await b.createAnswer(), 2000));
  const received = () => chunks.reduce((n, c) => n + c.byteLength, 0);
  return { a, b, conn, chunks, received };
}

Deno.test({
  name: "wrtc-crash: a host killed mid-transfer closes its channels; the next gets a new host",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const logs: string[] = [];
    const webrtc = await clientWebRTC((m) => logs.push(m)) as IsolatedWebRTC;
    const first = await isolatedPair(webrtc);
    const writer = first.conn.writable.getWriter();
    await writer.write(new Uint8Array(1 << 20));
    const pid = webrtc.hostPid!;
    Deno.kill(pid, "SIGKILL");
    await first.conn.closed;
    assertEquals(first.a.connectionState, "closed");
    first.b.close();
    assert(logs.some((l) => l.includes(`${pid} ended (SIGKILL)`)), logs.join("\n"));

    const second = await isolatedPair(webrtc);
    assert(webrtc.hostPid !== pid);
    const payload = new Uint8Array(8 << 20).map((_, i) => (i * 2654435761) >>> 24);
    const w = second.conn.writable.getWriter();
    // The far channel's first messages may come out of order (docs/PROXY.md, step 4).
    await w.write(payload.subarray(0, 1));
    await waitUntil(() => second.received() >= 1, 30_000);
    await w.write(payload.subarray(1));
    await waitUntil(() => second.received() >= payload.byteLength, 30_000);
    const got = new Uint8Array(payload.byteLength);
    let off = 0;
    for (const c of second.chunks) got.set(c, (off += c.byteLength) - c.byteLength);
    assert(got.every((v, i) => v === payload[i]), "8 MiB intact over the new host");
    second.conn.close();
    second.a.close();
    second.b.close();
  },
});

Deno.test({
  name: "wrtc-crash: the client binary outlives its WebRTC host's death mid-download",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 76, fileSize: 10_000_000 });
    try {
      chain.ourProxy();
      chain.ourProxy();
      const client = await chain.ourClient(["--max", "1"]);
      const fetching = chain.fetch(client.port, 1_000_000);
      await waitUntil(() => /using proxy/.test(Deno.readTextFileSync(client.log)), 60_000);
      await new Promise((r) => setTimeout(r, 3000));
      const host = webrtcHostOf(client.proc.pid);
      assert(host !== null, "the client runs a WebRTC host process");
      Deno.kill(host, "SIGKILL");
      const got = await fetching;
      const death = client.proc.death();
      assert(death === null, death ?? "");
      console.log(
        `10 MB paced at 1 MB/s, the client's WebRTC host killed midway: ` +
          `${got.seconds.toFixed(1)} s, longest stall ${got.longestStall.toFixed(1)} s`,
      );
      assertEquals(got.bytes, chain.fileSize);
      assertEquals(got.sha256, chain.fileSha256);
      const log = await Deno.readTextFile(client.log);
      assert(/WebRTC host process \d+ ended \(SIGKILL\); 1 peer connection lost/.test(log), log);
      const next = webrtcHostOf(client.proc.pid);
      assert(next !== null && next !== host, "a new host carries the session");
    } finally {
      await chain.stop();
    }
  },
});
