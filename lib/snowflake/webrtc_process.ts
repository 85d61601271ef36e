/**
 * WebRTC in a process of its own (docs/client.md "WebRTC in a process of its own"): the binary
 * starts itself again with {@link HOST_ARG}, and that process serves peer connections over a
 * loopback link (lib/snowflake/webrtc_link.ts, lib/snowflake/webrtc_host.ts), so that @roamhq/wrtc's crash costs the peer
 * connections it carries, not the binary. It is started through `/proc/self/exe` (the only
 * program the client and the broker-proxy binary may run, tools/permissions.ts); where there is
 * none (macOS, Windows) WebRTC stays in the binary's process.
 *
 * @module
 */
import { keepResidentMemoryLow } from "../process/resident_memory.ts";
import type { WebRTC } from "./webrtc.ts";
import { type HostProcess, IsolatedWebRTC } from "./webrtc_isolated.ts";
import { connectToOwner, listenForHost } from "./webrtc_link.ts";

/** The hidden first argument that makes a binary a WebRTC host. */
export const HOST_ARG = "--webrtc-host-process";

const SELF = "/proc/self/exe";

/** The binary that starts hosts: its entry point (from source) and its V8 flags. */
export interface HostBinary {
  /** The entry point that runs {@link runWebRTCHost} when its first argument is HOST_ARG. */
  entry: URL;
  /** A compiled binary passes its own to the host; from source the host is given these. */
  v8Flags: string;
  /** Who loses the crash when WebRTC stays in-process: "the client", "the proxy". */
  role: string;
}

function spawnHost(binary: HostBinary): HostProcess {
  const args = Deno.build.standalone ? [HOST_ARG] : [
    "run",
    "--allow-ffi",
    "--allow-net=127.0.0.1",
    "--ignore-env",
    "--no-prompt",
    `--v8-flags=${binary.v8Flags}`,
    binary.entry.href,
    HOST_ARG,
  ];
  const child = new Deno.Command(SELF, { args, stdin: "piped", stdout: "null", stderr: "null" })
    .spawn();
  const status = child.status.then((s) => ({ code: s.code, signal: s.signal }));
  let listening: ReturnType<typeof listenForHost>;
  try {
    listening = listenForHost(status);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  const { invitation, link } = listening;
  const stdin = child.stdin.getWriter();
  stdin.write(invitation).then(() => stdin.close()).catch(() => {/* it died: status tells */});
  let conn: Deno.TcpConn | undefined;
  let refed = true;
  link.then((c) => {
    conn = c;
    if (!refed) c.unref();
  }, () => {
    try {
      child.kill("SIGKILL");
    } catch { /* it has exited */ }
  });
  return {
    pid: child.pid,
    link,
    status,
    ref: () => {
      refed = true;
      child.ref();
      conn?.ref();
    },
    unref: () => {
      refed = false;
      child.unref();
      conn?.unref();
    },
    kill: () => child.kill("SIGKILL"),
  };
}

/**
 * Starts a WebRTC host now where the binary can run one (Linux, and allowed to run
 * `/proc/self/exe` and to listen on 127.0.0.1: a binary run from source with older flags may not
 * be); null elsewhere. A host takes ~0.1 s to start and load libwebrtc, so entry points start it
 * before loading the rest of the binary, off the first peer connection's path (docs/client.md
 * "The first connection").
 */
export async function startWebRTCHost(binary: HostBinary): Promise<IsolatedWebRTC | null> {
  if (Deno.build.os !== "linux") return null;
  const run = await Deno.permissions.query({ name: "run", command: SELF });
  const net = await Deno.permissions.query({ name: "net", host: "127.0.0.1" });
  if (run.state !== "granted" || net.state !== "granted") return null;
  const isolated = new IsolatedWebRTC(() => spawnHost(binary));
  isolated.start();
  return isolated;
}

/**
 * The binary's WebRTC: `host` ({@link startWebRTCHost}'s; one is started when not given),
 * logging to `log`, or where there is none this process's own, with a warning on Linux.
 */
export async function hostedWebRTC(
  binary: HostBinary,
  log: (m: string) => void,
  host?: IsolatedWebRTC | null,
): Promise<WebRTC> {
  const isolated = host === undefined ? await startWebRTCHost(binary) : host;
  if (isolated) {
    isolated.log = log;
    return isolated;
  }
  if (Deno.build.os === "linux") {
    log(
      `WARNING: WebRTC runs in this process (not allowed to run ${SELF} or to listen on ` +
        `127.0.0.1): a crash in @roamhq/wrtc ends ${binary.role} (docs/client.md)`,
    );
  }
  return (await import("./webrtc_wrtc.ts")).wrtcWebRTC;
}

/** Runs this process as the WebRTC host of its parent until the parent closes their link. */
export async function runWebRTCHost(): Promise<void> {
  // The terminal's Ctrl-C reaches the whole process group: the parent closes its peer
  // connections and then the link.
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => {});
  const { wrtcWebRTC } = await import("./webrtc_wrtc.ts");
  const { serveWebRTC } = await import("./webrtc_host.ts");
  keepResidentMemoryLow(() => {}); // the host's stderr goes nowhere
  const link = await connectToOwner(Deno.stdin);
  await serveWebRTC(wrtcWebRTC, link);
}
