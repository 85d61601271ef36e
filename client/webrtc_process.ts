/**
 * The client's WebRTC runs in a process of its own (docs/client.md "WebRTC in a process of its
 * own"): the same binary started with {@link HOST_ARG}, serving peer connections over its
 * stdin and stdout (lib/snowflake/webrtc_host.ts), so that @roamhq/wrtc's crash costs the
 * proxies it carries, not the client. It is started through `/proc/self/exe` (the only program
 * the client may run, tools/permissions.ts); where there is none (macOS, Windows) WebRTC stays
 * in the client's process.
 *
 * @module
 */
import { keepResidentMemoryLow } from "../lib/process/resident_memory.ts";
import type { WebRTC } from "../lib/snowflake/webrtc.ts";
import { type HostProcess, IsolatedWebRTC } from "../lib/snowflake/webrtc_isolated.ts";

/** The hidden first argument that makes the binary a WebRTC host. */
export const HOST_ARG = "--webrtc-host-process";

/**
 * The client's V8 flags (tools/permissions.ts, docs/client.md "Memory"). A compiled binary
 * passes them to its host itself; from source the host is given them here.
 */
export const CLIENT_V8_FLAGS = "--max-semi-space-size=1,--max-opt=2";

const SELF = "/proc/self/exe";

function spawnHost(): HostProcess {
  const args = Deno.build.standalone ? [HOST_ARG] : [
    "run",
    "--allow-ffi",
    "--ignore-env",
    "--no-prompt",
    `--v8-flags=${CLIENT_V8_FLAGS}`,
    new URL("./main.ts", import.meta.url).href,
    HOST_ARG,
  ];
  const child = new Deno.Command(SELF, { args, stdin: "piped", stdout: "piped", stderr: "null" })
    .spawn();
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    status: child.status.then((s) => ({ code: s.code, signal: s.signal })),
    ref: () => child.ref(),
    unref: () => child.unref(),
    kill: () => child.kill("SIGKILL"),
  };
}

/**
 * Starts a WebRTC host now where the client can run one (Linux, and allowed to run
 * `/proc/self/exe`: a client run from source with older flags may not be); null elsewhere. A host
 * takes ~0.1 s to start and load libwebrtc, so client/main.ts starts it before loading the rest of
 * the client, off the first rendezvous's path (docs/client.md "WebRTC in a process of its own").
 */
export async function startWebRTCHost(): Promise<IsolatedWebRTC | null> {
  if (Deno.build.os !== "linux") return null;
  const run = await Deno.permissions.query({ name: "run", command: SELF });
  if (run.state !== "granted") return null;
  const isolated = new IsolatedWebRTC(spawnHost);
  isolated.start();
  return isolated;
}

/**
 * The WebRTC the client uses: `host` ({@link startWebRTCHost}'s; one is started when not given),
 * logging to `log`, or where there is none the client's own process, with a warning on Linux.
 */
export async function clientWebRTC(
  log: (m: string) => void,
  host?: IsolatedWebRTC | null,
): Promise<WebRTC> {
  const isolated = host === undefined ? await startWebRTCHost() : host;
  if (isolated) {
    isolated.log = log;
    return isolated;
  }
  if (Deno.build.os === "linux") {
    log(
      `WARNING: WebRTC runs in this process (not allowed to run ${SELF}): a crash in ` +
        "@roamhq/wrtc ends the client (docs/client.md)",
    );
  }
  return (await import("../lib/snowflake/webrtc_wrtc.ts")).wrtcWebRTC;
}

/** Runs this process as the WebRTC host of its parent until the parent closes its stdin. */
export async function runWebRTCHost(): Promise<void> {
  // The terminal's Ctrl-C reaches the whole process group: the client closes its peer
  // connections and then the host's stdin.
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => {});
  const { wrtcWebRTC } = await import("../lib/snowflake/webrtc_wrtc.ts");
  const { serveWebRTC } = await import("../lib/snowflake/webrtc_host.ts");
  keepResidentMemoryLow(() => {}); // the host's stderr goes nowhere
  await serveWebRTC(wrtcWebRTC, Deno.stdin.readable, Deno.stdout.writable);
}
