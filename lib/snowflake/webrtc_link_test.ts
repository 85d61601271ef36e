/**
 * `wrtc-crash:` the link to the WebRTC host process: only a connection that proves the token is
 * taken, others are closed without disturbing it, and the listener is gone once the host came,
 * its time ran out, or it ended.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { readFull, writeAll } from "../net/io.ts";
import { connectToOwner, listenForHost } from "./webrtc_link.ts";

/** A reader of `bytes`, as the host's stdin. */
function stdinOf(bytes: Uint8Array) {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= bytes.byteLength) return Promise.resolve(null);
      const n = Math.min(p.byteLength, bytes.byteLength - off);
      p.set(bytes.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

/** Runs `fn` with the event loop held open, as the binary's peer connections hold it. */
async function held(fn: () => Promise<void>): Promise<void> {
  const alive = setInterval(() => {}, 1000);
  try {
    await fn();
  } finally {
    clearInterval(alive);
  }
}

const portOf = (invitation: Uint8Array) => new DataView(invitation.buffer).getUint16(0);

/** Whether `conn` was closed by its peer: EOF or reset. */
async function closedByPeer(conn: Deno.Conn): Promise<boolean> {
  try {
    return await conn.read(new Uint8Array(1)) === null;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionReset;
  }
}

Deno.test("wrtc-crash: the host link takes only the token's connection; others are closed", () =>
  held(async () => {
    const { invitation, link } = listenForHost(new Promise(() => {}));
    const port = portOf(invitation);

    const wrong = await Deno.connect({ hostname: "127.0.0.1", port });
    const forged = invitation.slice(2);
    forged[0]! ^= 1;
    await writeAll(wrong, forged);
    assert(await closedByPeer(wrong), "a wrong token is closed");
    wrong.close();
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(silent, invitation.subarray(2, 20)); // part of the token, then nothing

    const host = await connectToOwner(stdinOf(invitation));
    const owner = await link;
    assert(await closedByPeer(silent), "a connection still proving itself is closed");
    silent.close();
    await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port }));

    await writeAll(owner, new Uint8Array([1, 2, 3]));
    assertEquals(await readFull(host, 3), new Uint8Array([1, 2, 3]));
    await writeAll(host, new Uint8Array([4, 5]));
    assertEquals(await readFull(owner, 2), new Uint8Array([4, 5]));
    host.close();
    owner.close();
  }));

Deno.test("wrtc-crash: the host link's listener closes if the host never comes or ends", () =>
  held(async () => {
    const late = listenForHost(new Promise(() => {}), 50);
    await assertRejects(() => late.link);
    await assertRejects(() =>
      Deno.connect({ hostname: "127.0.0.1", port: portOf(late.invitation) })
    );

    let end = () => {};
    const ended = listenForHost(new Promise<void>((r) => end = r));
    const waiting = await Deno.connect({ hostname: "127.0.0.1", port: portOf(ended.invitation) });
    end();
    await assertRejects(() => ended.link);
    assert(await closedByPeer(waiting), "a connection still proving itself is closed");
    waiting.close();
    await assertRejects(() =>
      Deno.connect({ hostname: "127.0.0.1", port: portOf(ended.invitation) })
    );
  }));
