/**
 * Import this module first in every entry point: it makes the process ignore
 * SIGUSR1, so that no signal can start a debugger in it.
 *
 * Deno >= 2.9.2 starts the V8 inspector on 127.0.0.1:9229 when the process
 * receives SIGUSR1 (Node's convention), also when a JS listener is installed,
 * and has no flag to turn that off. Whoever reaches that port runs code with
 * the process's rights (root, for pytunnel). Deno installs its SIGUSR1 watcher
 * through tokio's signal registry 500 ms after start; that registry installs
 * the OS handler once per signal and never again. So we register SIGUSR1 with
 * it ourselves, then set the disposition to SIG_IGN with libc's `signal()`:
 * the kernel drops the signal before any handler runs, whatever registers
 * later. Needs --allow-ffi (every binary has it: tools/permissions.ts).
 * See README "Signals".
 *
 * @module
 */

const SIG_IGN = 1n;

const LIBC: Partial<Record<typeof Deno.build.os, { path: string; sigusr1: number }>> = {
  linux: { path: "libc.so.6", sigusr1: 10 },
  darwin: { path: "libSystem.dylib", sigusr1: 30 },
};

/** Thrown when SIGUSR1 cannot be ignored: the binary must not run then. */
export class InspectorGuardError extends Error {}

/**
 * Makes SIGUSR1 ignored for good; returns a check that says whether it still
 * is (run it after the runtime's 500 ms grace period).
 */
export function ignoreSigusr1(): () => boolean {
  const target = LIBC[Deno.build.os];
  if (!target) throw new InspectorGuardError(`no SIGUSR1 guard for ${Deno.build.os}`);
  let lib: Deno.DynamicLibrary<{ signal: { parameters: ["i32", "usize"]; result: "usize" } }>;
  try {
    lib = Deno.dlopen(target.path, { signal: { parameters: ["i32", "usize"], result: "usize" } });
  } catch (e) {
    throw new InspectorGuardError(
      `cannot ignore SIGUSR1 (it would start a debugger): ${(e as Error).message}; ` +
        `run with the flags from tools/permissions.ts (--allow-ffi)`,
    );
  }
  // Installs the runtime's own handler now, so that its later registration
  // (the inspector watcher) finds SIGUSR1 taken and does not reinstall it.
  const noop = () => {};
  Deno.addSignalListener("SIGUSR1", noop);
  Deno.removeSignalListener("SIGUSR1", noop);
  lib.symbols.signal(target.sigusr1, SIG_IGN);
  return () => lib.symbols.signal(target.sigusr1, SIG_IGN) === SIG_IGN;
}

function refuse(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(70);
}

// Windows has no SIGUSR1 (nor a signal that starts the inspector).
if (Deno.build.os !== "windows") guard();

function guard(): void {
  try {
    const stillIgnored = ignoreSigusr1();
    // Should a future runtime reinstall its handler anyway, stop rather than
    // run with a debugger one signal away.
    Deno.unrefTimer(setTimeout(() => {
      if (!stillIgnored()) refuse("the runtime reinstalled a SIGUSR1 handler (debugger); stopping");
    }, 2000));
  } catch (e) {
    if (!(e instanceof InspectorGuardError)) throw e;
    refuse(e.message);
  }
}
