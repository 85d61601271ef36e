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

/** The flags every binary has, plus FFI and subprocesses for those that ask. */
function flags(extra: { ffi: boolean; run?: boolean }): string[] {
  return [
    "--unstable-net",
    "--allow-net",
    ...(extra.ffi ? ["--allow-ffi"] : []),
    "--allow-env",
    "--allow-read",
    "--allow-write",
    ...(extra.run ? ["--allow-run"] : []),
    "--allow-sys",
  ];
}

export const BINARIES: Record<string, BinarySpec> = {
  client: { entry: "client/main.ts", flags: flags({ ffi: true }) },
  server: {
    entry: "server/main.ts",
    // A young generation capped at 4 MiB per semi-space (V8 grows it to 32 MiB under load):
    // with thousands of mostly idle sessions that is ~40 MiB of RSS for nothing, and
    // throughput is the same. gc() for server/churn_gc.ts (tests/bench/server_bench.ts).
    flags: [...flags({ ffi: false }), "--v8-flags=--max-semi-space-size=4,--expose-gc"],
  },
  "broker-proxy": {
    entry: "proxy/main.ts",
    // --allow-ffi: @roamhq/wrtc (the proxy's peers, the broker's /probe). V8 heap flags for
    // the broker's ~10k held polls, whose garbage is short-lived: a 1 MiB young generation and
    // a 20% (not ~100%) old-generation growth step. With 10,000 waiting proxies: median RSS
    // 212 MB, peak 220, against ~260/330 MB with the young generation flag alone and ~320/370
    // with neither (tests/bench/broker_bench.ts). GC-only flags: the JIT is untouched.
    flags: [
      ...flags({ ffi: true }),
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=20",
    ],
  },
  pytunnel: { entry: "pytunnel/main.ts", flags: flags({ ffi: true, run: true }) },
};

/** The `deno run` argv (after the deno binary) that runs a binary from source. */
export function runArgs(name: keyof typeof BINARIES & string, args: string[] = []): string[] {
  const spec = BINARIES[name];
  if (!spec) throw new TypeError(`unknown binary ${name}`);
  return ["run", ...spec.flags, spec.entry, ...args];
}
