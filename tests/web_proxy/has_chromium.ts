/** Where Debian's Chromium is, and whether it is there (without loading playwright). @module */

export const CHROMIUM = "/usr/bin/chromium";

/** True when Debian's Chromium is installed (tools/setup.sh installs it). */
export const HAS_CHROMIUM = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
