/**
 * Builds the four single-file binaries into dist/ with `deno compile`, using
 * the flags in permissions.ts. Needs internet: `deno compile` downloads denort.
 */
import { BINARIES } from "./permissions.ts";

const only = Deno.args.length > 0 ? Deno.args : Object.keys(BINARIES);
for (const name of only) {
  const spec = BINARIES[name];
  if (!spec) {
    console.error(`unknown binary "${name}"; expected one of ${Object.keys(BINARIES).join(", ")}`);
    Deno.exit(2);
  }
  console.log(`compiling ${name} from ${spec.entry}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      ...spec.flags,
      ...(spec.include ?? []).flatMap((file) => ["--include", file]),
      "--output",
      `dist/${name}`,
      spec.entry,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) Deno.exit(code);
}
