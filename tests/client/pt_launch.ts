/**
 * The client launched as tor launches a PT (PT v1 environment, stdin as tor's lifeline), read
 * until its stdout shows what a test waits for.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";

export interface PtLaunch {
  child: Deno.ChildProcess;
  /** Stdout up to and including what was waited for. */
  stdout: string;
  /** The rest of stdout, until the client exits. */
  rest: Promise<string>;
}

/**
 * Starts the client with `args` in `cwd`, its state and HOME in `state`, the PT variables plus
 * `env`, and reads its stdout until `until` matches (or it ends).
 */
export async function launchPtClient(
  opts: { args: string[]; cwd: string; state: string; env?: Record<string, string>; until: RegExp },
): Promise<PtLaunch> {
  const child = new Deno.Command(Deno.execPath(), {
    args: runArgs("client", opts.args),
    cwd: opts.cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: opts.state,
      TOR_PT_MANAGED_TRANSPORT_VER: "1",
      TOR_PT_CLIENT_TRANSPORTS: "snowflake",
      TOR_PT_STATE_LOCATION: opts.state,
      TOR_PT_EXIT_ON_STDIN_CLOSE: "1",
      ...opts.env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  while (!opts.until.test(stdout)) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
  }
  const rest = (async () => {
    let more = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return more;
      more += value;
    }
  })();
  return { child, stdout, rest };
}
