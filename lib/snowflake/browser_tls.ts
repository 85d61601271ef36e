/**
 * Which browser TLS profile a `utls-imitate=` bridge argument or `--impersonate-profile`
 * asks for, as one of impit's profiles (docs/client.md, "TLS fingerprint"). impit imitates
 * Chrome and Firefox only, at its newest version of each, so uTLS's versioned names map to
 * those, its randomized ClientHellos to Chrome's (impit cannot randomize), and what impit
 * cannot imitate (iOS, Safari, Edge, 360, QQ) to none, with a warning.
 *
 * @module
 */

/** An impit profile we use. */
export type BrowserProfile = "chrome151" | "firefox144";

/** What a `utls-imitate` value becomes. */
export interface ProfileChoice {
  /** null: Deno's own TLS (lib/snowflake/fronted_http.ts). */
  profile: BrowserProfile | null;
  /** Why the profile is not exactly what was asked for, for the log. */
  note?: string;
}

/** impit's newest Chrome: also what fronted rendezvous imitates (lib/snowflake/fronted_chrome_http.ts). */
export const CHROME: BrowserProfile = "chrome151";
const FIREFOX: BrowserProfile = "firefox144";

/** The profile for a `utls-imitate` value or `--impersonate-profile` ("" = none). */
export function chooseProfile(imitate: string): ProfileChoice {
  const name = imitate.toLowerCase();
  if (name === "" || name === "none") return { profile: null };
  if (name === "chrome" || name === "hellochrome_auto") return { profile: CHROME };
  if (name === "firefox" || name === "hellofirefox_auto") return { profile: FIREFOX };
  if (name.startsWith("hellochrome_")) {
    return { profile: CHROME, note: `${imitate}: only the newest Chrome is imitated` };
  }
  if (name.startsWith("hellofirefox_")) {
    return { profile: FIREFOX, note: `${imitate}: only the newest Firefox is imitated` };
  }
  if (name.startsWith("hellorandomized")) {
    return {
      profile: CHROME,
      note: `${imitate}: randomized ClientHellos are not imitated; Chrome's stands in`,
    };
  }
  if (name === "hellogolang") {
    return { profile: null, note: `${imitate}: no browser asked for; Deno's own TLS` };
  }
  return { profile: null, note: `${imitate}: no such browser profile` };
}
