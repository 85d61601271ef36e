/**
 * Load generator for the server benchmark, run as its own process so that its CPU time is
 * not billed to the server and can be measured apart.
 *
 * Each simulated client is a WebSocket carrying Turbo Tunnel with a deliberately minimal
 * receiver ("lite"): it opens one smux v2 stream, asks the fake ORPort for `bytes` bytes,
 * and then only acknowledges KCP segments (one ACK packet per WebSocket message), reorders
 * them, walks the smux frames to count payload and returns window updates. It never runs a
 * KCP scheduler, so it costs a fraction of a full client and the server stays the bottleneck.
 * `--full` uses the real client stack (KCP + smux from lib/) instead, for comparison.
 *
 * Protocol on stdio: prints `ready` once every session is connected, waits for one line on
 * stdin, downloads, then prints one JSON line {bytes, secs, cpuSeconds}. With
 * BYTES_PER_SESSION 0 the sessions stay idle instead (one open echo stream each, smux
 * keepalives every 10 s) until the next line on stdin, then disconnect; `--no-stream` makes
 * them open no stream (a session only).
 *
 * `deno run --allow-all tests/bench/server_load.ts URL SESSIONS BYTES_PER_SESSION [--full]`
 *
 * @module
 */
import { encodePacket, PacketDecoder } from "../../lib/encapsulation/mod.ts";
import { ClientID, TOKEN } from "../../lib/turbotunnel/mod.ts";
import { connectClient } from "../server/ws_client.ts";
import { procUsage } from "../server/proc.ts";

// KCP (docs/PROTOCOL.md §3) and smux (§4) constants the lite client needs.
const OVERHEAD = 24;
const PUSH = 81;
const ACK = 82;
const WASK = 83;
const WINS = 84;
const MTU = 1400;
const RCV_WND = 65535;
const SMUX_VER = 2;
const SYN = 0;
const FIN = 1;
const PSH = 2;
const NOP = 3;
const UPD = 4;
const STREAM_WINDOW = 1024 * 1024;
const SID = 1;
const RESEND_MS = 300;

const u32 = (b: Uint8Array, o: number) =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

function smuxFrame(cmd: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const f = new Uint8Array(8 + data.length);
  f[0] = SMUX_VER;
  f[1] = cmd;
  f[2] = data.length;
  f[3] = data.length >>> 8;
  putU32(f, 4, SID);
  f.set(data, 8);
  return f;
}

/** One lite client: a download over one smux stream. */
class LiteClient {
  #ws: WebSocket;
  #decoder = new PacketDecoder();
  #conv = crypto.getRandomValues(new Uint32Array(1))[0]!;
  #now = () => Date.now() >>> 0;
  // Our own PUSH segments (smux SYN/PSH/UPD) until acknowledged: sn → segment bytes.
  #sndNxt = 0;
  #unacked = new Map<number, { seg: Uint8Array; sent: number }>();
  // Receive side.
  #rcvNxt = 0;
  #ooo = new Map<number, Uint8Array>();
  #acks: number[] = [];
  // smux parse state over the in-order byte stream.
  #hdr = new Uint8Array(8);
  #hdrHave = 0;
  #skip = 0;
  #isPsh = false;
  #consumed = 0;
  #sinceUpd = 0;
  received = 0;
  #onPayload: (() => void) | null = null;
  #onAcked: (() => void) | null = null;
  /** Resolves once everything sent so far is acknowledged. */
  acked(): Promise<void> {
    if (this.#unacked.size === 0) return Promise.resolve();
    return new Promise((r) => (this.#onAcked = r));
  }
  /** Resolves once any payload arrived (the echo of an idle stream). */
  firstByte(): Promise<void> {
    if (this.received > 0) return Promise.resolve();
    return new Promise((r) => (this.#onPayload = r));
  }
  #done!: () => void;
  readonly done = new Promise<void>((r) => (this.#done = r));
  #timer: ReturnType<typeof setInterval>;

  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => this.#onMessage(new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = () => this.#done();
    this.#timer = setInterval(() => this.#resend(), RESEND_MS);
  }

  static async connect(url: string): Promise<LiteClient> {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
    });
    const hello = new Uint8Array(TOKEN.length + 8);
    hello.set(TOKEN);
    hello.set(ClientID.random().bytes, TOKEN.length);
    ws.send(hello);
    return new LiteClient(ws);
  }

  /**
   * Opens the stream and asks the source for `bytes` bytes; 0 asks it to echo, and one
   * byte is sent to be echoed, so `received` turns 1 once the stream is open end to end.
   */
  request(bytes: number): void {
    const count = new Uint8Array(bytes === 0 ? 5 : 4);
    new DataView(count.buffer).setUint32(0, bytes);
    const syn = smuxFrame(SYN);
    const psh = smuxFrame(PSH, count);
    const data = new Uint8Array(syn.length + psh.length);
    data.set(syn);
    data.set(psh, syn.length);
    this.#sendPush(data);
  }

  /** An smux keepalive, as real clients send every 10 s. */
  keepalive(): void {
    this.#sendPush(smuxFrame(NOP));
  }

  close(): void {
    clearInterval(this.#timer);
    this.#ws.close();
  }

  #header(buf: Uint8Array, o: number, cmd: number, ts: number, sn: number, len: number): void {
    putU32(buf, o, this.#conv);
    buf[o + 4] = cmd;
    buf[o + 5] = 0;
    const wnd = RCV_WND - this.#ooo.size;
    buf[o + 6] = wnd;
    buf[o + 7] = wnd >>> 8;
    putU32(buf, o + 8, ts);
    putU32(buf, o + 12, sn);
    putU32(buf, o + 16, this.#rcvNxt);
    putU32(buf, o + 20, len);
  }

  #sendPush(data: Uint8Array): void {
    const seg = new Uint8Array(OVERHEAD + data.length);
    const sn = this.#sndNxt++;
    this.#header(seg, 0, PUSH, this.#now(), sn, data.length);
    seg.set(data, OVERHEAD);
    this.#unacked.set(sn, { seg, sent: Date.now() });
    this.#send(encodePacket(seg));
  }

  #resend(): void {
    const now = Date.now();
    for (const u of this.#unacked.values()) {
      if (now - u.sent < RESEND_MS) continue;
      u.sent = now;
      this.#send(encodePacket(u.seg));
    }
  }

  #send(msg: Uint8Array): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(msg as Uint8Array<ArrayBuffer>);
  }

  #onMessage(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
    let wins = false;
    for (let p = this.#decoder.next(); p !== null; p = this.#decoder.next()) {
      for (let o = 0; o + OVERHEAD <= p.length;) {
        const cmd = p[o + 4]!;
        const ts = u32(p, o + 8);
        const sn = u32(p, o + 12);
        const una = u32(p, o + 16);
        const len = u32(p, o + 20);
        for (const k of this.#unacked.keys()) if (k < una) this.#unacked.delete(k);
        if (cmd === PUSH) {
          this.#acks.push(sn, ts);
          if (sn >= this.#rcvNxt && !this.#ooo.has(sn)) {
            this.#ooo.set(sn, p.subarray(o + OVERHEAD, o + OVERHEAD + len));
          }
        } else if (cmd === ACK) {
          this.#unacked.delete(sn);
          if (this.#unacked.size === 0) this.#onAcked?.();
        } else if (cmd === WASK) {
          wins = true;
        } else if (cmd !== WINS) {
          break;
        }
        o += OVERHEAD + len;
      }
    }
    for (let d = this.#ooo.get(this.#rcvNxt); d !== undefined; d = this.#ooo.get(this.#rcvNxt)) {
      this.#ooo.delete(this.#rcvNxt++);
      this.#smux(d);
    }
    this.#flushAcks(wins);
  }

  #flushAcks(wins: boolean): void {
    if (this.#acks.length === 0 && !wins) return;
    const perPacket = Math.floor(MTU / OVERHEAD);
    const parts: Uint8Array[] = [];
    const acks = this.#acks;
    for (let i = 0; i < acks.length || (wins && i === 0); i += perPacket * 2) {
      const n = Math.min(perPacket, (acks.length - i) / 2);
      const pkt = new Uint8Array(OVERHEAD * (n + (wins && i === 0 ? 1 : 0)));
      for (let j = 0; j < n; j++) {
        this.#header(pkt, j * OVERHEAD, ACK, acks[i + 2 * j + 1]!, acks[i + 2 * j]!, 0);
      }
      if (wins && i === 0) this.#header(pkt, n * OVERHEAD, WINS, this.#now(), 0, 0);
      parts.push(encodePacket(pkt));
    }
    this.#acks = [];
    const msg = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
    let off = 0;
    for (const p of parts) {
      msg.set(p, off);
      off += p.length;
    }
    this.#send(msg);
  }

  /** Walks smux frames over the in-order stream; counts PSH payload, sends UPDs. */
  #smux(d: Uint8Array): void {
    let o = 0;
    while (o < d.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, d.length - o);
        this.#skip -= n;
        o += n;
        if (this.#isPsh) this.#payload(n);
        continue;
      }
      const n = Math.min(8 - this.#hdrHave, d.length - o);
      this.#hdr.set(d.subarray(o, o + n), this.#hdrHave);
      this.#hdrHave += n;
      o += n;
      if (this.#hdrHave < 8) break;
      this.#hdrHave = 0;
      const cmd = this.#hdr[1]!;
      this.#skip = this.#hdr[2]! | (this.#hdr[3]! << 8);
      this.#isPsh = cmd === PSH;
      if (cmd === FIN) this.#done();
    }
  }

  #payload(n: number): void {
    this.received += n;
    this.#consumed = (this.#consumed + n) >>> 0;
    this.#sinceUpd += n;
    if (this.#onPayload) {
      this.#onPayload();
      this.#onPayload = null;
    }
    // Like xtaci/smux: an UPD on the first data (the initial window is only 256 KiB), then
    // each time half the window has been read.
    if (this.#sinceUpd >= STREAM_WINDOW / 2 || this.#consumed === n) {
      this.#sinceUpd = 0;
      const upd = new Uint8Array(8);
      putU32(upd, 0, this.#consumed);
      putU32(upd, 4, STREAM_WINDOW);
      this.#sendPush(smuxFrame(UPD, upd));
    }
  }
}

/** One download per session with the real client stack. */
async function fullDownload(
  client: Awaited<ReturnType<typeof connectClient>>,
  bytes: number,
): Promise<number> {
  const stream = await client.smux.openStream();
  const w = stream.writable.getWriter();
  const hdr = new Uint8Array(4);
  new DataView(hdr.buffer).setUint32(0, bytes);
  await w.write(hdr);
  let got = 0;
  for await (const chunk of stream.readable) got += chunk.length;
  await w.close().catch(() => {});
  stream.close();
  return got;
}

async function readLine(): Promise<void> {
  const buf = new Uint8Array(64);
  while (true) {
    const n = await Deno.stdin.read(buf);
    if (n === null || buf.subarray(0, n).includes(10)) return;
  }
}

async function inBatches<T>(n: number, make: () => Promise<T>, batch = 200): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) {
    out.push(...await Promise.all(Array.from({ length: Math.min(batch, n - i) }, make)));
  }
  return out;
}

async function main(): Promise<void> {
  const [url, nArg, bytesArg] = Deno.args;
  const full = Deno.args.includes("--full");
  const n = Number(nArg);
  const bytes = Number(bytesArg);
  if (!url || !(n > 0) || !(bytes >= 0)) {
    throw new TypeError(
      "usage: server_load.ts URL SESSIONS BYTES_PER_SESSION [--full] [--no-stream]",
    );
  }
  if (bytes === 0) {
    // Idle sessions: each with one open stream, smux keepalives every 10 s, until stdin says.
    const noStream = Deno.args.includes("--no-stream");
    const ready = inBatches(n, async () => {
      const c = await LiteClient.connect(url);
      if (noStream) {
        c.keepalive();
        await c.acked();
      } else {
        c.request(0);
        await c.firstByte();
      }
      return c;
    });
    const timeout = setTimeout(() => {
      console.error("server_load: sessions not up after 120 s");
      Deno.exit(1);
    }, 120_000);
    const clients = await ready;
    clearTimeout(timeout);
    let next = 0;
    const keepalives = setInterval(() => {
      for (let i = 0; i < Math.ceil(n / 10); i++) clients[next++ % n]!.keepalive();
    }, 1000);
    console.log("ready");
    await readLine();
    clearInterval(keepalives);
    for (const c of clients) c.close();
    return;
  }
  let run: () => Promise<number>[];
  if (full) {
    const clients = await inBatches(n, () => connectClient(url));
    run = () => clients.map((c) => fullDownload(c, bytes).finally(() => c.close()));
  } else {
    const clients = await inBatches(n, () => LiteClient.connect(url));
    run = () =>
      clients.map((c) => {
        c.request(bytes);
        return c.done.then(() => {
          c.close();
          return c.received;
        });
      });
  }
  console.log("ready");
  await readLine();
  const cpu0 = procUsage(Deno.pid).cpuSeconds;
  const t0 = performance.now();
  const got = (await Promise.all(run())).reduce((a, b) => a + b, 0);
  const secs = (performance.now() - t0) / 1000;
  const cpuSeconds = procUsage(Deno.pid).cpuSeconds - cpu0;
  console.log(JSON.stringify({ bytes: got, secs, cpuSeconds }));
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
