/**
 * The program's arguments as a person meant them: `deno task NAME -- …`
 * passes the `--` through, so a `--` that comes before any option is dropped
 * (the compiled binary accepts the same command line).
 *
 * @module
 */

/** `args` without the first `--` when only plain words (subcommands) precede it. */
export function programArgs(args: readonly string[] = Deno.args): string[] {
  const i = args.indexOf("--");
  if (i < 0 || args.slice(0, i).some((a) => a.startsWith("-"))) return [...args];
  return [...args.slice(0, i), ...args.slice(i + 1)];
}

/** Go's flag package: `-h`, `-help` and `--help` print the usage and exit 0. */
export function isHelpFlag(arg: string): boolean {
  return /^--?(h|help)$/.test(arg);
}

/** `-version` or `--version`, as the Go Snowflake tools spell it. */
export function isVersionFlag(arg: string): boolean {
  return /^--?version$/.test(arg);
}
