/**
 * The permission flags of each binary: the single source of truth used by
 * `deno task compile` and by the tests that run the entry points.
 *
 * @module
 */

/** A shipped binary: its entry point and the flags it runs with. */
export interface BinarySpec {
  entry: string;
  flags: string[];
}

/**
 * The flags every binary has, plus subprocesses for those that ask. FFI for
 * all: lib/process/no_inspector.ts ignores SIGUSR1 through libc.
 */
function flags(extra: { run?: boolean } = {}): string[] {
  return [
    "--unstable-net",
    "--allow-net",
    "--allow-ffi",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    ...(extra.run ? ["--allow-run"] : []),
    "--allow-sys",
  ];
}

export const BINARIES: Record<string, BinarySpec> = {
  client: { entry: "client/main.ts", flags: flags() },
  server: {
    entry: "server/main.ts",
    // A young generation capped at 4 MiB per semi-space (V8 grows it to 32 MiB under load):
    // with thousands of mostly idle sessions that is ~40 MiB of RSS for nothing, and
    // throughput is the same. gc() for server/churn_gc.ts (tests/bench/server_bench.ts).
    flags: [...flags(), "--v8-flags=--max-semi-space-size=4,--expose-gc"],
  },
  "broker-proxy": {
    entry: "proxy/main.ts",
    // --allow-ffi: @roamhq/wrtc (the proxy's peers, the broker's /probe). A 1 MiB young
    // generation: the broker holds ~10k idle long polls whose garbage is short-lived, and
    // letting V8 grow it to 16 MiB cost ~25 MB of RSS at 10k polls (tests/bench).
    flags: [...flags(), "--v8-flags=--max-semi-space-size=1"],
  },
  pytunnel: { entry: "pytunnel/main.ts", flags: flags({ run: true }) },
};

/**
 * The dev tasks of deno.json (`deno task pytunnel -- …`): each runs its entry
 * point directly (one process, as the compiled binary: signals, exit codes and
 * pids behave the same) from the caller's working directory, so relative
 * paths mean what the person typed. tools/dev_tasks.ts writes them; `cli:` checks them.
 */
export const DEV_TASKS: Record<string, { binary: string; args: string[] }> = {
  client: { binary: "client", args: [] },
  server: { binary: "server", args: [] },
  broker: { binary: "broker-proxy", args: ["broker"] },
  proxy: { binary: "broker-proxy", args: ["proxy"] },
  pytunnel: { binary: "pytunnel", args: [] },
};

/** The deno.json command of a dev task. */
export function devTaskCommand(task: string): string {
  const t = DEV_TASKS[task];
  if (!t) throw new TypeError(`unknown dev task ${task}`);
  const spec = BINARIES[t.binary]!;
  // deno task starts in the repository root ($PWD) and names the caller's directory INIT_CWD.
  return [
    'R="$PWD" && cd "$INIT_CWD" && deno run',
    ...spec.flags,
    `"$R/${spec.entry}"`,
    ...t.args,
  ].join(" ");
}

/** The `deno run` argv (after the deno binary) that runs a binary from source. */
export function runArgs(name: keyof typeof BINARIES & string, args: string[] = []): string[] {
  const spec = BINARIES[name];
  if (!spec) throw new TypeError(`unknown binary ${name}`);
  return ["run", ...spec.flags, spec.entry, ...args];
}
