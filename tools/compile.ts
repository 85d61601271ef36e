/**
 * `deno task compile [binary...] [--target NAME...]`: builds the release binaries into
 * dist/<target>/ with `deno compile`, each with its flags from tools/permissions.ts.
 *
 * The WebRTC addon: @roamhq/wrtc loads `@roamhq/wrtc-<os>-<arch>` with a computed
 * require(), which `deno compile` cannot follow, so each target's package is embedded
 * with `--include`; so are the client's impit and wreq-js addons (`impit-<os>-<arch>[-<abi>]`,
 * `@wreq-js/binding-<os>-<arch>[-<abi>]`, picked by platform at run time). npm installs only
 * the host's packages; fetch the others first with `npm pack` (the release workflow does:
 * .github/workflows/release.yml). `deno compile`
 * downloads `denort` for each target, so this needs internet.
 *
 * @module
 */
import { BINARIES, binaryFlags, TARGETS } from "./permissions.ts";

/** One `deno compile` run. */
export interface CompileStep {
  binary: string;
  target: string;
  output: string;
  /** argv after the deno executable. */
  args: string[];
}

/** The vfs root of a compiled binary: `deno-compile-<executable name>` in the OS temp dir. */
function embeddedRoot(os: string, exe: string): string {
  return os === "linux" ? `/tmp/deno-compile-${exe}` : "";
}

/**
 * The `deno compile` runs that build `binaries` for `targets` (all by default), each
 * binary only for the targets it supports.
 */
export function compilePlan(
  binaries: string[] = Object.keys(BINARIES),
  targets: string[] = Object.keys(TARGETS),
): CompileStep[] {
  const steps: CompileStep[] = [];
  for (const binary of binaries) {
    const spec = BINARIES[binary];
    if (!spec) throw new RangeError(`unknown binary "${binary}"`);
    for (const target of targets) {
      const t = TARGETS[target];
      if (!t) throw new RangeError(`unknown target "${target}"`);
      if (!spec.targets.includes(target)) continue;
      const exe = t.os === "windows" ? `${binary}.exe` : binary;
      // Included files are read at run time from the binary's vfs; on macOS and Windows its
      // root is in a per-user temp dir unknown here, so they are read only on Linux.
      const root = embeddedRoot(t.os, exe);
      const embedded = root ? (spec.sourceReads ?? spec.include).map((f) => `${root}/${f}`) : [];
      const include = [
        ...spec.include,
        ...(spec.wrtc ? [`node_modules/${t.wrtc}`] : []),
        ...(spec.impit ? [`node_modules/${t.impit}`] : []),
        ...(spec.wreq ? [`node_modules/${t.wreq}`] : []),
      ].flatMap((f) => ["--include", f]);
      const output = `dist/${target}/${exe}`;
      steps.push({
        binary,
        target,
        output,
        args: [
          "compile",
          "--no-check",
          "--target",
          t.triple,
          ...binaryFlags(spec, t.os, embedded),
          ...include,
          "--output",
          output,
          spec.entry,
        ],
      });
    }
  }
  return steps;
}

/** Splits `a b --target x --target y` into binaries and targets. */
export function parseCompileArgs(args: string[]): { binaries?: string[]; targets?: string[] } {
  const binaries: string[] = [];
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--target") {
      const t = args[++i];
      if (!t) throw new RangeError("--target needs a value");
      targets.push(t);
    } else if (a.startsWith("--target=")) targets.push(a.slice("--target=".length));
    else binaries.push(a);
  }
  return {
    binaries: binaries.length ? binaries : undefined,
    targets: targets.length ? targets : undefined,
  };
}

if (import.meta.main) {
  let steps: CompileStep[];
  try {
    const { binaries, targets } = parseCompileArgs(Deno.args);
    steps = compilePlan(binaries, targets);
  } catch (e) {
    console.error(
      `compile: ${(e as Error).message}\nbinaries: ${Object.keys(BINARIES).join(", ")}\n` +
        `targets: ${Object.keys(TARGETS).join(", ")}`,
    );
    Deno.exit(2);
  }
  for (const step of steps) {
    for (const file of step.args.filter((_, i) => step.args[i - 1] === "--include")) {
      if (await exists(file)) continue;
      console.error(`compile: ${step.binary} for ${step.target} needs ${file}; ${howToGet(file)}`);
      Deno.exit(1);
    }
    console.log(`compiling ${step.output} from ${step.args.at(-1)}`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: step.args,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) Deno.exit(code);
  }
}

/** How to make a missing `--include` file. */
function howToGet(file: string): string {
  if (file === "proxy/web/web-proxy.js") return "build it with deno task bundle-web-proxy";
  const pkg = file.slice("node_modules/".length);
  const parent = pkg.startsWith("impit-")
    ? "impit"
    : pkg.startsWith("@wreq-js/")
    ? "wreq-js"
    : "@roamhq/wrtc";
  const tgz = pkg.replace(/^@/, "").replace("/", "-") + "-*.tgz";
  return `fetch it with\n  npm pack ${pkg}@$(node -p ` +
    `"require('./node_modules/${parent}/package.json').version") && ` +
    `mkdir -p ${file} && tar -xzf ${tgz} --strip-components=1 -C ${file}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
