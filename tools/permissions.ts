/**
 * The permission flags of each binary: the single source of truth used by
 * `deno task compile` (tools/compile.ts), the dev tasks of deno.json
 * (tools/dev_tasks.ts) and the tests that run the entry points.
 *
 * Each binary gets the network, FFI (every binary: lib/process/no_inspector.ts
 * ignores SIGUSR1 through libc; the client and the proxy drop start-up pages through it,
 * lib/process/resident_memory.ts; @roamhq/wrtc and pytunnel's TUN need it too),
 * the exact environment variables it reads (others read as unset), and file access only under the
 * directories where tor, systemd units (docs/systemd/) and operators keep what
 * it reads and writes. See README "Release binaries" and docs/RELEASE.md.
 *
 * @module
 */
import { CLIENT_V8_FLAGS } from "../client/webrtc_process.ts";
import { BROKER_PROXY_V8_FLAGS } from "../proxy/webrtc_process.ts";

/** An operating system a binary is built for. */
export type Os = "linux" | "darwin" | "windows";

/** A release target: `deno compile --target` triple and the native addon packages it needs. */
export interface Target {
  triple: string;
  os: Os;
  /** npm package with the WebRTC addon for this platform (optional dependency of @roamhq/wrtc). */
  wrtc: string;
  /** npm package with impit's addon for this platform (optional dependency of impit). */
  impit: string;
  /** npm package with wreq-js's addon for this platform (optional dependency of wreq-js). */
  wreq: string;
}

export const TARGETS: Record<string, Target> = {
  "linux-x64": {
    triple: "x86_64-unknown-linux-gnu",
    os: "linux",
    wrtc: "@roamhq/wrtc-linux-x64",
    impit: "impit-linux-x64-gnu",
    wreq: "@wreq-js/binding-linux-x64-gnu",
  },
  "linux-arm64": {
    triple: "aarch64-unknown-linux-gnu",
    os: "linux",
    wrtc: "@roamhq/wrtc-linux-arm64",
    impit: "impit-linux-arm64-gnu",
    wreq: "@wreq-js/binding-linux-arm64-gnu",
  },
  "macos-x64": {
    triple: "x86_64-apple-darwin",
    os: "darwin",
    wrtc: "@roamhq/wrtc-darwin-x64",
    impit: "impit-darwin-x64",
    wreq: "@wreq-js/binding-darwin-x64",
  },
  "macos-arm64": {
    triple: "aarch64-apple-darwin",
    os: "darwin",
    wrtc: "@roamhq/wrtc-darwin-arm64",
    impit: "impit-darwin-arm64",
    wreq: "@wreq-js/binding-darwin-arm64",
  },
  "windows-x64": {
    triple: "x86_64-pc-windows-msvc",
    os: "windows",
    wrtc: "@roamhq/wrtc-win32-x64",
    impit: "impit-win32-x64-msvc",
    wreq: "@wreq-js/binding-win32-x64-msvc",
  },
};

/** Where a binary may read and write files, per OS (absolute paths; none on Windows). */
interface FileAccess {
  read: string[];
  write: string[];
}

/** A shipped binary, as declared below. */
interface BinaryDecl {
  entry: string;
  /** Release targets it is built for. */
  targets: string[];
  /** Whether it loads the @roamhq/wrtc native addon (embedded per target). */
  wrtc: boolean;
  /** Whether it loads impit's native addon (browser TLS for rendezvous; embedded per target). */
  impit?: boolean;
  /** Whether it loads wreq-js's native addon (Chrome's TLS for fronted rendezvous; per target). */
  wreq?: boolean;
  /** Repository files it loads or reads at run time (embedded with `--include`). */
  include: string[];
  /** Repository paths it may read at run time (default: `include`): a Worker's module graph. */
  sourceReads?: string[];
  /** Exact environment variable names (a trailing `*` is a prefix: TOR_PT_ is the PT spec's). */
  env: string[];
  /** Programs it starts, per OS. */
  run: string[] | ((os: Os) => string[]);
  /** OS information it asks for (Deno's API names). */
  sys?: string[];
  files: (os: Os) => FileAccess;
  /** V8 flags (GC tuning). */
  v8?: string;
}

/** A shipped binary and the flags that run it from this checkout (as compiled, on this OS). */
export interface BinarySpec extends BinaryDecl {
  flags: string[];
}

/** The temp directory: the PT state fallbacks, systemd's PrivateTmp, and the tests' files. */
const TMP: Record<Os, string[]> = {
  linux: ["/tmp"],
  darwin: ["/tmp", "/private/tmp"],
  windows: [],
};

/** tor's DataDirectory (cookie file, pt_state/): Debian, Debian's tor@ instances, Homebrew. */
const TOR_DATA: Record<Os, string[]> = {
  linux: ["/var/lib/tor", "/var/lib/tor-instances"],
  darwin: ["/usr/local/var/lib/tor", "/opt/homebrew/var/lib/tor"],
  windows: [],
};

/** Configuration, state and logs of our own services (docs/systemd/). */
function serviceDirs(os: Os, name: string): { etc: string[]; state: string[]; log: string[] } {
  if (os === "windows") return { etc: [], state: [], log: [] };
  if (os === "darwin") {
    return {
      etc: [`/usr/local/etc/${name}`, `/opt/homebrew/etc/${name}`],
      state: [`/usr/local/var/lib/${name}`, `/opt/homebrew/var/lib/${name}`],
      log: [`/usr/local/var/log/${name}`, `/opt/homebrew/var/log/${name}`],
    };
  }
  return { etc: [`/etc/${name}`], state: [`/var/lib/${name}`], log: [`/var/log/${name}`] };
}

const PT_CLIENT_ENV = [
  "TOR_PT_MANAGED_TRANSPORT_VER",
  "TOR_PT_CLIENT_TRANSPORTS",
  "TOR_PT_PROXY",
  "TOR_PT_STATE_LOCATION",
  "TOR_PT_EXIT_ON_STDIN_CLOSE",
];

const PT_SERVER_ENV = [
  "TOR_PT_MANAGED_TRANSPORT_VER",
  "TOR_PT_SERVER_TRANSPORTS",
  "TOR_PT_SERVER_BINDADDR",
  "TOR_PT_SERVER_TRANSPORT_OPTIONS",
  "TOR_PT_ORPORT",
  "TOR_PT_EXTENDED_SERVER_PORT",
  "TOR_PT_AUTH_COOKIE_FILE",
  "TOR_PT_STATE_LOCATION",
  "TOR_PT_EXIT_ON_STDIN_CLOSE",
];

/** The broker's SQS queue (@aws-sdk/client-sqs): credentials and region from AWS_* variables. */
const AWS_ENV = ["AWS_*"];

/**
 * What the AWS SDK (SQS rendezvous: the client's -sqsqueue, the broker's queue) asks for as it
 * starts: ~/.aws through HOME, or the uid and home directory without it, and the OS release for
 * its user agent. Its reads of ~/.aws are refused and it ignores that: credentials come from the
 * bridge line (client) or AWS_* (broker).
 */
const AWS_SDK = { env: ["HOME"], sys: ["uid", "homedir", "osRelease"] };

/** The ws package (the server's WebSocket listener) reads these switches. */
const WS_ENV = ["WS_NO_BUFFER_UTIL", "WS_NO_UTF_8_VALIDATE"];

const ALL = Object.keys(TARGETS);

const DECLS: Record<string, BinaryDecl> = {
  client: {
    entry: "client/main.ts",
    targets: ALL,
    wrtc: true,
    impit: true,
    wreq: true,
    include: [],
    env: [...PT_CLIENT_ENV, ...AWS_SDK.env],
    // Itself, as the process its WebRTC runs in (client/webrtc_process.ts); Linux only.
    run: (os) => os === "linux" ? ["/proc/self/exe"] : [],
    sys: AWS_SDK.sys,
    // Reads only /usr/bin/ldd: impit's loader tells glibc from musl Linux by it (else it asks
    // process.report, which wants more --allow-sys). Writes its -log file (with
    // -log-to-state-dir: in tor's pt_state/).
    files: (os) => ({
      read: os === "linux" ? ["/usr/bin/ldd"] : [],
      write: [...TOR_DATA[os], ...serviceDirs(os, "tor").log, ...TMP[os]],
    }),
    // A 1 MiB young generation (docs/client.md "Memory"): a download churns through short-lived
    // buffers, and smaller semi-spaces are scavenged before they grow; peak RSS under load
    // ~97 → ~89 MB, throughput and CPU per MB unchanged (tests/bench/client_bench.ts).
    // No TurboFan (Maglev is the top tier): the optimizing compiler's code in the deno binary is
    // never paged in (~2.7 MB fewer resident code pages under load), CPU per MB unchanged.
    v8: CLIENT_V8_FLAGS,
  },
  server: {
    entry: "server/main.ts",
    targets: ["linux-x64", "linux-arm64", "macos-x64", "macos-arm64"],
    wrtc: false,
    // The Turbo Tunnel Worker (num-turbotunnel > 1), loaded by URL: not in the static graph,
    // so loading it and its imports needs read access to the sources.
    include: ["server/tunnel_worker.ts"],
    sourceReads: ["server", "lib"],
    env: [...PT_SERVER_ENV, ...WS_ENV],
    run: [],
    // The ExtORPort cookie and pt_state/ (ACME cache) are in tor's DataDirectory; --log under
    // /var/log/tor or /var/log/snowflake, --acme-ca-cert under /etc/snowflake.
    files: (os) => {
      const d = serviceDirs(os, "snowflake");
      return {
        read: [...TOR_DATA[os], ...d.etc, ...d.state, ...TMP[os]],
        write: [...TOR_DATA[os], ...d.state, ...d.log, ...serviceDirs(os, "tor").log, ...TMP[os]],
      };
    },
    // GC-only flags (tests/bench/server_bench.ts, README "Server memory"). A 1 MiB young
    // generation: scavenges come often enough to free the ArrayBuffers a busy session
    // churns through before they pile up (peak RSS with one busy session ~97 → ~78 MiB).
    // A 30% (not ~100%) old-generation growth step: 10,000 idle sessions' keepalives and
    // timers promote garbage that otherwise doubles the heap before a major GC (RSS ~790 →
    // ~590 MiB). Old generations up to 64 MiB are left alone: with the 30% step alone, busy
    // sessions (a small old generation) ran major GCs back to back, +35–70% CPU-s per GB.
    // gc() for server/churn_gc.ts.
    // JIT compilation on the thread that runs the code, not on V8's background threads: their
    // compiler scratch memory stays in per-thread malloc arenas that glibc keeps (~4 MiB of
    // the peak RSS with one busy session; same steady-state MB/s and CPU-s per GB).
    v8: "--max-semi-space-size=1,--heap-growing-percent=30,--initial-old-space-size=64," +
      "--no-concurrent-recompilation,--no-concurrent-sparkplug,--no-concurrent-osr,--expose-gc",
  },
  "broker-proxy": {
    entry: "proxy/main.ts",
    targets: ALL,
    wrtc: true,
    // The web proxy page the broker serves with --serve-web-proxy (proxy/web/serve.ts).
    include: ["proxy/web/index.html", "proxy/web/web-proxy.js"],
    env: [...AWS_ENV, ...AWS_SDK.env],
    // Itself, as the process the proxy's WebRTC runs in (proxy/webrtc_process.ts); Linux only.
    run: (os) => os === "linux" ? ["/proc/self/exe"] : [],
    sys: AWS_SDK.sys,
    // Bridge list, TLS certificate and key under /etc/snowflake; the ACME cache under
    // /var/lib/snowflake; --log under /var/log/snowflake.
    files: (os) => {
      const d = serviceDirs(os, "snowflake");
      return {
        read: [...d.etc, ...d.state, ...TMP[os]],
        write: [...d.state, ...d.log, ...TMP[os]],
      };
    },
    // GC-only V8 flags for the broker's ~10k held polls, whose garbage is short-lived: a 1 MiB
    // young generation and a 20% old-generation growth step (~212 MB median RSS at 10,000
    // waiting proxies against ~320 MB without: tests/bench/broker_bench.ts).
    v8: BROKER_PROXY_V8_FLAGS,
  },
  // The static-cookie ExtORPort in front of each tor instance of a multi-tor bridge
  // (README "Multi-instance bridge"); gen-cookie writes the cookie under /etc/snowflake.
  "extor-static-cookie": {
    entry: "server/extor_static_cookie.ts",
    targets: ["linux-x64", "linux-arm64"],
    wrtc: false,
    include: [],
    env: PT_SERVER_ENV,
    run: [],
    files: (os) => ({
      read: [...TOR_DATA[os], ...serviceDirs(os, "snowflake").etc, ...TMP[os]],
      write: [...serviceDirs(os, "snowflake").etc, ...TMP[os]],
    }),
  },
  pytunnel: {
    entry: "pytunnel/main.ts",
    targets: ["linux-x64", "linux-arm64"],
    wrtc: false,
    include: [],
    // The yaml package's debugging switches.
    env: ["LOG_TOKENS", "LOG_STREAM"],
    // Addresses and routes of the TUN device (lib/tunnel/tun_linux.ts).
    run: ["ip"],
    // YAML files and keys under /etc/pytunnel (genkey --out writes there), the status socket
    // /run/pytunnel.sock or under /run/pytunnel/.
    files: () => {
      const own = ["/etc/pytunnel", "/run/pytunnel", "/run/pytunnel.sock", ...TMP.linux];
      return { read: own, write: own };
    },
  },
};

function pathFlag(name: string, paths: string[]): string[] {
  return paths.length === 0 ? [] : [`--${name}=${paths.join(",")}`];
}

/**
 * The runtime flags of a binary for an OS: permissions and V8 flags. `embedded` are the
 * absolute paths its `include` files have at run time (the repository when run from source).
 */
export function binaryFlags(spec: BinaryDecl, os: Os, embedded: string[]): string[] {
  const files = spec.files(os);
  return [
    "--unstable-net",
    "--allow-net",
    "--allow-ffi",
    ...pathFlag("allow-env", spec.env),
    // Any other variable reads as unset instead of failing: npm packages probe many (debug
    // enumerates them all, proxy-from-env reads *_proxy, the AWS SDK reads HOME).
    "--ignore-env",
    ...pathFlag("allow-read", [...embedded, ...files.read]),
    ...pathFlag("allow-write", files.write),
    ...pathFlag("allow-run", typeof spec.run === "function" ? spec.run(os) : spec.run),
    ...pathFlag("allow-sys", spec.sys ?? []),
    ...(spec.v8 ? [`--v8-flags=${spec.v8}`] : []),
  ];
}

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

function hostOs(): Os {
  const os = Deno.build.os;
  return os === "darwin" || os === "windows" ? os : "linux";
}

/** The flags that run a binary from a checkout at `root` (dev tasks, tests): the compiled ones. */
function sourceFlags(spec: BinaryDecl, root: string): string[] {
  return binaryFlags(spec, hostOs(), (spec.sourceReads ?? spec.include).map((f) => `${root}/${f}`));
}

export const BINARIES: Record<string, BinarySpec> = Object.fromEntries(
  Object.entries(DECLS).map(([name, d]) => [name, { ...d, flags: sourceFlags(d, ROOT) }]),
);

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
    // Quoted: `*` must not glob, and $R expands inside double quotes.
    ...sourceFlags(spec, "$R").map((f) => /[*$]/.test(f) ? `"${f}"` : f),
    `"$R/${spec.entry}"`,
    ...t.args,
  ].join(" ");
}

/** The `deno run` argv (after the deno binary) that runs a binary from source. */
export function runArgs(name: keyof typeof BINARIES & string, args: string[] = []): string[] {
  const spec = BINARIES[name];
  if (!spec) throw new TypeError(`unknown binary ${name}`);
  return ["run", ...spec.flags, `${ROOT}/${spec.entry}`, ...args];
}
