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
  /** Files read at run time that `deno compile` must embed (`--include`). */
  include?: string[];
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
    // GC-only flags (tests/bench/server_bench.ts, README "Server memory"). A 1 MiB young
    // generation: scavenges come often enough to free the ArrayBuffers a busy session
    // churns through before they pile up (peak RSS with one busy session ~97 → ~78 MiB).
    // A 30% (not ~100%) old-generation growth step: 10,000 idle sessions' keepalives and
    // timers promote garbage that otherwise doubles the heap before a major GC (RSS ~790 →
    // ~590 MiB). Old generations up to 64 MiB are left alone: with the 30% step alone, busy
    // sessions (a small old generation) ran major GCs back to back, +35–70% CPU-s per GB.
    // gc() for server/churn_gc.ts.
    flags: [
      ...flags(),
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=30,--initial-old-space-size=64,--expose-gc",
    ],
  },
  "broker-proxy": {
    entry: "proxy/main.ts",
    // --allow-ffi: @roamhq/wrtc (the proxy's peers, the broker's /probe). V8 heap flags for
    // the broker's ~10k held polls, whose garbage is short-lived: a 1 MiB young generation and
    // a 20% (not ~100%) old-generation growth step. With 10,000 waiting proxies: median RSS
    // 212 MB, peak 220, against ~260/330 MB with the young generation flag alone and ~320/370
    // with neither (tests/bench/broker_bench.ts). GC-only flags: the JIT is untouched.
    flags: [
      ...flags(),
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=20",
    ],
    // The web proxy page `--serve-web-proxy` serves (proxy/web/serve.ts).
    include: ["proxy/web/index.html", "proxy/web/web-proxy.js"],
  },
  // The static-cookie ExtORPort in front of each tor instance of a multi-tor bridge.
  "extor-static-cookie": { entry: "server/extor_static_cookie.ts", flags: flags() },
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
