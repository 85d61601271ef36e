/**
 * How fast a download resumes after its carrier vanishes: a client (lib/turbotunnel's
 * RedialPacketConn over WebSockets, KCP, smux) downloads from a server, loses its carrier
 * after 8 MiB, finds the next one `outageMs` later, and times the first byte and 4 MiB
 * more on it. Shared by the `redial:server` test and the server bench.
 *
 * @module
 */
import { dialKcp, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import { type Conn, dialWebSocket, NamedAddr, sleep } from "../../lib/net/mod.ts";
import { SmuxSession, SNOWFLAKE_SMUX_CLIENT } from "../../lib/smux/mod.ts";
import { ClientID, RedialPacketConn } from "../../lib/turbotunnel/mod.ts";

export interface ResumeOptions {
  /** Written on the stream first (what makes the ORPort start sending). */
  request: Uint8Array;
  outageMs: number;
  /** Sampled 2 s into the outage and at its end (e.g. the server's drop counter). */
  probe?: () => string;
}

export interface ResumeResult {
  /** From the new carrier's opening to the first byte after it. */
  firstMs: number;
  /** From the new carrier's opening to 4 MiB more. */
  bulkMs: number;
  dials: number;
  probeEarly?: string;
  probeLate?: string;
}

export async function resumeAfterOutage(
  url: string,
  options: ResumeOptions,
): Promise<ResumeResult> {
  const remote = new NamedAddr("websocket", url);
  const carriers: Conn[] = [];
  const opened: number[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  const pconn = new RedialPacketConn(ClientID.random(), remote, async (signal) => {
    await gate;
    const c = await dialWebSocket(url, { signal });
    carriers.push(c);
    opened.push(performance.now());
    return c;
  }, { retryDelayMs: 100 });
  const kcp = dialKcp(pconn, remote, SNOWFLAKE_KCP);
  const smux = new SmuxSession(kcp, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
  try {
    const stream = await smux.openStream();
    await stream.writable.getWriter().write(options.request);
    // Read all along, noting when the first chunk after the redial arrives.
    const reader = stream.readable.getReader();
    let received = 0;
    let firstAfter = 0;
    let progress: () => void = () => {};
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += value.length;
        if (opened.length === 2 && firstAfter === 0) firstAfter = performance.now();
        progress();
      }
    })().catch(() => {});
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((r) => (progress = r));
    };
    await until(() => received >= 8 * 1024 * 1024);
    gate = new Promise((r) => (open = r));
    carriers[0]!.close();
    await sleep(2000);
    const probeEarly = options.probe?.();
    await sleep(options.outageMs - 2000);
    const probeLate = options.probe?.();
    open();
    await until(() => firstAfter !== 0);
    const firstMs = firstAfter - opened[1]!;
    const target = received + 4 * 1024 * 1024;
    await until(() => received >= target);
    const bulkMs = performance.now() - opened[1]!;
    stream.close();
    await reading;
    return { firstMs, bulkMs, dials: pconn.dials, probeEarly, probeLate };
  } finally {
    smux.close();
    kcp.close();
    pconn.close();
  }
}
