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
 * The WebRTC the client uses: in a host process where it can start one (Linux, and allowed to
 * run `/proc/self/exe`: a client run from source with older flags may not be).
 */
export async function clientWebRTC(log: (m: string) => void): Promise<WebRTC> {
  if (Deno.build.os === "linux") {
    const run = await Deno.permissions.query({ name: "run", command: SELF });
    if (run.state === "granted") {
      const isolated = new IsolatedWebRTC(spawnHost, log);
      // A host takes ~0.09 s to start and load libwebrtc (in-process: 0.03–0.06 s): not on
      // the first rendezvous's path.
      isolated.start();
      return isolated;
    }
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
