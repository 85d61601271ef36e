/**
 * Helpers for driving Debian's kcptun (kcp-go + smux) against our stack:
 * process start/stop (our own pids only), smux settings that
 * match kcptun's defaults, and streaming SHA-256.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type KcpOptions, SNOWFLAKE_KCP } from "../../lib/kcp/mod.ts";
import type { SmuxConfig } from "../../lib/smux/mod.ts";

/** Snowflake-like KCP flags, the same on both kcptun sides and ours. */
export const KCPTUN_FLAGS = [
  "--crypt",
  "none",
  "--nocomp",
  "--datashard",
  "0",
  "--parityshard",
  "0",
  "--smuxver",
  "2",
  "--mode",
  "manual",
  "--nodelay",
  "0",
  "--interval",
  "10",
  "--resend",
  "0",
  "--nc",
  "1",
  "--sndwnd",
  "65535",
  "--rcvwnd",
  "65535",
  "--mtu",
  "1400",
  "--quiet",
];

/** Our KCP options matching {@link KCPTUN_FLAGS}: Snowflake's, in kcptun's `--crypt none` framing. */
export const KCPTUN_KCP: KcpOptions = { ...SNOWFLAKE_KCP, crypt: "none" };

/** kcptun's smux settings (--smuxver 2, --smuxbuf 4 MiB, --streambuf 2 MiB, --keepalive 10). */
export const KCPTUN_SMUX: Partial<SmuxConfig> = {
  version: 2,
  keepAliveIntervalMs: 10_000,
  keepAliveTimeoutMs: 30_000,
  maxReceiveBuffer: 4 * 1024 * 1024,
  maxStreamBuffer: 2 * 1024 * 1024,
};

/**
 * Arguments that make kcptun acknowledge every packet at once (kcp-go's
 * ackNoDelay, settable only through its JSON config); by default it
 * acknowledges once per interval, which caps any sender at one window per 10 ms.
 */
export function kcptunAckNoDelayArgs(): string[] {
  const path = Deno.makeTempFileSync({ prefix: "kcptun-acknodelay-", suffix: ".json" });
  Deno.writeTextFileSync(path, JSON.stringify({ acknodelay: true }));
  return ["-c", path];
}

export function kcptunAvailable(): boolean {
  try {
    Deno.statSync("/usr/bin/kcptun-server");
    Deno.statSync("/usr/bin/kcptun-client");
    return true;
  } catch {
    return false;
  }
}

/** A started kcptun process; stop() kills only this pid and waits for it. */
export interface Proc {
  pid: number;
  stop(): Promise<void>;
}

/** {@link KCPTUN_FLAGS} with some values replaced, e.g. `{ "--sndwnd": "32" }`. */
export function kcptunFlags(overrides: Record<string, string> = {}): string[] {
  return KCPTUN_FLAGS.map((f, i) => {
    const flag = KCPTUN_FLAGS[i - 1];
    return flag !== undefined && flag in overrides ? overrides[flag]! : f;
  });
}

/** kcptun-server on 127.0.0.1:`kcpPort` (UDP), forwarding to 127.0.0.1:`targetPort` (TCP). */
export function startKcptunServer(
  kcpPort: number,
  targetPort: number,
  extraArgs: string[] = [],
  overrides: Record<string, string> = {},
): Proc {
  return startKcptun("kcptun-server", [
    "-l",
    `127.0.0.1:${kcpPort}`,
    "-t",
    `127.0.0.1:${targetPort}`,
    ...extraArgs,
  ], overrides);
}

/** kcptun-client on 127.0.0.1:`tcpPort` (TCP), dialing KCP at `remote` (host:port). */
export function startKcptunClient(
  tcpPort: number,
  remote: string,
  overrides: Record<string, string> = {},
): Proc {
  return startKcptun("kcptun-client", ["-l", `127.0.0.1:${tcpPort}`, "-r", remote], overrides);
}

function startKcptun(
  binary: "kcptun-client" | "kcptun-server",
  args: string[],
  overrides: Record<string, string> = {},
): Proc {
  const child = new Deno.Command(`/usr/bin/${binary}`, {
    args: [...args, ...kcptunFlags(overrides)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await child.status;
    },
  };
}

/** Reads a stream to its end, returning SHA-256 and length. */
export async function hashStream(
  readable: ReadableStream<Uint8Array>,
): Promise<{ hash: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of readable) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { hash: h.digest("hex"), bytes };
}

/** Writes `data` in chunks then closes the writable (FIN / half-close). */
export async function writeAndClose(
  writable: WritableStream<Uint8Array>,
  data: Uint8Array,
  chunk = 32768,
): Promise<void> {
  const w = writable.getWriter();
  for (let i = 0; i < data.length; i += chunk) await w.write(data.subarray(i, i + chunk));
  await w.close();
}

/** Connects to a TCP port, retrying while the process behind it starts. */
export async function connectRetry(port: number, tries = 100): Promise<Deno.TcpConn> {
  for (let i = 0;; i++) {
    try {
      return await Deno.connect({ hostname: "127.0.0.1", port });
    } catch (e) {
      if (i >= tries) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
