import { ClosedError } from "../net/errors.ts";
import { memoryConnPair } from "../net/memory.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { mulberry32, randomBytes } from "../testing/fuzz.ts";
import {
  encodeSmuxFrame,
  SMUX_CMD_FIN,
  SMUX_CMD_NOP,
  SMUX_CMD_PSH,
  SMUX_CMD_SYN,
  SMUX_CMD_UPD,
  SMUX_HEADER_SIZE,
  SmuxFrameDecoder,
} from "./frame.ts";
import { SmuxSession } from "./session.ts";
import type { SmuxStream } from "./stream.ts";

interface Gen {
  wire: Uint8Array;
  frames: string[];
}

/** A valid frame stream of the given version, and its expected decoding. */
function validStream(r: () => number, ver: 1 | 2, maxFrames: number, sids: number[]): Gen {
  const parts: Uint8Array[] = [];
  const frames: string[] = [];
  const n = Math.floor(r() * maxFrames);
  for (let i = 0; i < n; i++) {
    const sid = sids[Math.floor(r() * sids.length)]!;
    const pick = r();
    let cmd: number;
    let data: Uint8Array = new Uint8Array(0);
    if (pick < 0.15) cmd = SMUX_CMD_SYN;
    else if (pick < 0.25) cmd = SMUX_CMD_FIN;
    else if (pick < 0.3) cmd = SMUX_CMD_NOP;
    else if (pick < 0.4 && ver === 2) {
      cmd = SMUX_CMD_UPD;
      data = randomBytes(r, 8);
    } else {
      cmd = SMUX_CMD_PSH;
      const len = r() < 0.02 ? Math.floor(r() * 65536) : Math.floor(r() * 300);
      data = new Uint8Array(len).fill(Math.floor(r() * 256)); // contents do not matter here
    }
    parts.push(encodeSmuxFrame(ver, cmd, sid, data));
    frames.push(`${cmd}/${sid}/${data.length}`);
  }
  const wire = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    wire.set(p, off);
    off += p.length;
  }
  return { wire, frames };
}

function mutate(r: () => number, wire: Uint8Array): Uint8Array {
  let out = wire.slice();
  const ops = 1 + Math.floor(r() * 4);
  for (let k = 0; k < ops; k++) {
    const op = r();
    if (op < 0.4 && out.length > 0) {
      out[Math.floor(r() * out.length)] = Math.floor(r() * 256); // overwrite a byte
    } else if (op < 0.6) {
      out = out.subarray(0, Math.floor(r() * (out.length + 1))); // truncate
    } else if (op < 0.8) {
      const at = Math.floor(r() * (out.length + 1)); // insert random bytes
      const junk = new Uint8Array(1 + Math.floor(r() * 16)).map(() => r() * 256);
      const next = new Uint8Array(out.length + junk.length);
      next.set(out.subarray(0, at));
      next.set(junk, at);
      next.set(out.subarray(at), at + junk.length);
      out = next;
    } else if (out.length > 0) {
      // Header-aligned corruption: point a length field somewhere big.
      const at = Math.floor(r() * out.length);
      out[at] = 0xff;
      if (at + 1 < out.length) out[at + 1] = 0xff;
    }
  }
  return out;
}

function chunks(r: () => number, wire: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < wire.length;) {
    const n = 1 + Math.floor(r() * (r() < 0.2 ? 16 : 5000));
    out.push(wire.subarray(off, off + n));
    off += n;
  }
  return out;
}

Deno.test("fuzz: 100,000 random and mutated frame streams into the decoder", () => {
  const r = mulberry32(0x5eed);
  let frames = 0;
  let errors = 0;
  for (let i = 0; i < 100_000; i++) {
    const ver: 1 | 2 = r() < 0.5 ? 1 : 2;
    const kind = r();
    const gen = validStream(r, ver, 6, [0, 1, 2, 3, 0xffffffff]);
    const wire = kind < 0.2 ? gen.wire : kind < 0.85 ? mutate(r, gen.wire) : randomBytes(r, 64);
    const d = new SmuxFrameDecoder(ver);
    const got: string[] = [];
    let error: unknown = null;
    for (const c of chunks(r, wire)) {
      d.push(c);
      try {
        for (let f = d.next(); f; f = d.next()) {
          assertEquals(f.ver, ver);
          assert(f.cmd >= 0 && f.cmd <= (ver === 2 ? 4 : 3), `cmd ${f.cmd}`);
          if (f.cmd === SMUX_CMD_UPD) assertEquals(f.data.length, 8);
          if (f.cmd !== SMUX_CMD_PSH && f.cmd !== SMUX_CMD_UPD) assertEquals(f.data.length, 0);
          got.push(`${f.cmd}/${f.sid}/${f.data.length}`);
          frames++;
        }
      } catch (e) {
        error = e;
        break;
      }
      // Never holds more than one frame's worth beyond the last chunk.
      assert(d.buffered <= SMUX_HEADER_SIZE + 65535 + c.length);
    }
    if (error !== null) {
      assert(error instanceof SyntaxError, String(error));
      errors++;
    }
    if (kind < 0.2) {
      assertEquals(error, null);
      assertEquals(got, gen.frames);
      assertEquals(d.buffered, 0);
    }
  }
  assert(frames > 50_000 && errors > 10_000, `frames ${frames} errors ${errors}`);
});

async function consume(stream: SmuxStream, r: () => number): Promise<void> {
  const choice = r();
  if (choice < 0.2) {
    stream.close();
    return;
  }
  if (choice < 0.3) {
    await stream.readable.cancel();
    return;
  }
  if (choice < 0.4) {
    const w = stream.writable.getWriter();
    w.write(new Uint8Array(100)).catch(() => {});
    w.close().catch(() => {});
  }
  try {
    for await (const _ of stream.readable) { /* drain */ }
  } catch (e) {
    assert(e instanceof ClosedError || e instanceof SyntaxError, String(e));
  }
}

Deno.test("fuzz: 100,000 random and mutated frame streams into sessions", async () => {
  const r = mulberry32(0xc0ffee);
  const reasons = new Map<string, number>();
  let delivered = 0; // frame streams fully written into a live session
  let mutated = 0;
  while (delivered < 100_000) {
    const ver: 1 | 2 = r() < 0.5 ? 1 : 2;
    const [a, b] = memoryConnPair();
    const session = new SmuxSession(a, {
      client: r() < 0.5,
      config: {
        version: ver,
        keepAliveDisabled: true,
        maxReceiveBuffer: r() < 0.5 ? 4096 : 4194304,
        maxStreamBuffer: 4096,
      },
    });
    const jobs: Promise<void>[] = [];
    const accepting = (async () => {
      for (;;) {
        let s: SmuxStream;
        try {
          s = await session.acceptStream();
        } catch (e) {
          assert(e instanceof ClosedError || e instanceof SyntaxError, String(e));
          return;
        }
        jobs.push(consume(s, r));
      }
    })();
    const sinkDone = (async () => {
      try {
        for await (const _ of b.readable) { /* discard what the session writes */ }
      } catch { /* closed under us */ }
    })();
    const w = b.writable.getWriter();
    // Random frame streams back to back on one session until a mutated one ends it.
    for (let k = 0; k < 50 && !session.isClosed; k++) {
      const gen = validStream(r, ver, 8, [1, 2, 3, 4, 5]);
      const kind = r();
      const bad = kind >= 0.95;
      const wire = !bad ? gen.wire : kind < 0.99 ? mutate(r, gen.wire) : randomBytes(r, 32);
      let ok = true;
      for (const c of chunks(r, wire)) {
        try {
          await w.write(c);
        } catch {
          ok = false; // the session closed its conn
          break;
        }
      }
      if (ok) {
        delivered++;
        if (bad) mutated++;
      }
    }
    w.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<"hang">((res) => (timer = setTimeout(() => res("hang"), 5000)));
    const outcome = await Promise.race([session.closed.then(() => "closed" as const), hang]);
    clearTimeout(timer);
    assertEquals(outcome, "closed", "session hung");
    const reason = session.closeReason;
    assert(reason instanceof ClosedError || reason instanceof SyntaxError, String(reason));
    reasons.set(reason.name, (reasons.get(reason.name) ?? 0) + 1);
    await accepting;
    await Promise.all(jobs);
    await sinkDone;
  }
  assert((reasons.get("SyntaxError") ?? 0) > 100, JSON.stringify([...reasons]));
  assert((reasons.get("ClosedError") ?? 0) > 100, JSON.stringify([...reasons]));
  assert(mutated > 2000, `mutated ${mutated}`);
});
