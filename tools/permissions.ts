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

const unstable = ["--unstable-net"];

export const BINARIES: Record<string, BinarySpec> = {
  client: {
    entry: "client/main.ts",
    flags: [
      ...unstable,
      "--allow-net",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys",
    ],
  },
  server: {
    entry: "server/main.ts",
    flags: [
      ...unstable,
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys",
    ],
  },
  "broker-proxy": {
    entry: "proxy/main.ts",
    flags: [
      ...unstable,
      "--allow-net",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys",
    ],
  },
  pytunnel: {
    entry: "pytunnel/main.ts",
    flags: [
      ...unstable,
      "--allow-net",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-sys",
    ],
  },
};

/** The `deno run` argv (after the deno binary) that runs a binary from source. */
export function runArgs(name: keyof typeof BINARIES & string, args: string[] = []): string[] {
  const spec = BINARIES[name];
  if (!spec) throw new TypeError(`unknown binary ${name}`);
  return ["run", ...spec.flags, spec.entry, ...args];
}
