import { assertEquals } from "../testing/assert.ts";
import { chooseProfile } from "./browser_tls.ts";

Deno.test("tls-fingerprint: utls-imitate names and --impersonate-profile map to impit profiles", () => {
  const profile = (name: string) => chooseProfile(name).profile;
  assertEquals(profile(""), null);
  assertEquals(profile("none"), null);
  assertEquals(profile("chrome"), "chrome151");
  assertEquals(profile("firefox"), "firefox144");
  assertEquals(profile("hellochrome_auto"), "chrome151");
  assertEquals(profile("HelloChrome_83"), "chrome151");
  assertEquals(profile("hellofirefox_auto"), "firefox144");
  assertEquals(profile("hellofirefox_65"), "firefox144");
  // Tor Browser's bridge lines: randomizing is not imitated, Chrome's stands in (and says so).
  assertEquals(chooseProfile("hellorandomizedalpn"), {
    profile: "chrome151",
    note: "hellorandomizedalpn: randomized ClientHellos are not imitated; Chrome's stands in",
  });
  assertEquals(profile("hellorandomizednoalpn"), "chrome151");
  assertEquals(profile("hellogolang"), null);
  assertEquals(chooseProfile("helloios_auto"), {
    profile: null,
    note: "helloios_auto: no such browser profile",
  });
});
