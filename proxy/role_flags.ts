/** What `broker-proxy broker` and `broker-proxy proxy` do with their flags before running. @module */

/**
 * Parses a role's flags, or does what the flags alone ask: a parse error prints it with the
 * usage (exit 2), -help the usage and -version the version line (exit 0), all to stderr.
 * Returns the flags to run with, or the exit code.
 */
export function parseRoleFlags<F extends { help: boolean; version: boolean }>(
  args: string[],
  parse: (args: string[]) => F,
  usage: string,
  versionLine: string,
): F | number {
  let flags: F;
  try {
    flags = parse(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (flags.help) {
    console.error(usage);
    return 0;
  }
  if (flags.version) {
    console.error(versionLine);
    return 0;
  }
  return flags;
}
