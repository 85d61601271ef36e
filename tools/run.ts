/**
 * Runs a binary from source with exactly the flags it is compiled with
 * (`deno task client -- --help`), forwarding signals and the exit code.
 */
import { BINARIES, runArgs } from "./permissions.ts";

const [name, ...rest] = Deno.args;
if (!name || !BINARIES[name]) {
  console.error(`usage: run.ts <${Object.keys(BINARIES).join("|")}> [args...]`);
  Deno.exit(2);
}
const child = new Deno.Command(Deno.execPath(), {
  args: runArgs(name, rest),
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => child.kill(sig));
}
const { code } = await child.status;
Deno.exit(code);
