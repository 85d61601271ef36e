/**
 * `web-proxy:ui`: the page's switch, memory and error states in headless Chromium, in a
 * namespace (tests/web_proxy/ui_scenario.ts does the walking). Turning the switch off stops
 * polling at once (the poll in flight is aborted, none follows) and closes the open relay;
 * reloading keeps the choice, on or off, and consent is asked only once; a broker that goes
 * down shows the error state and the page recovers when it is back; a browser without WebRTC
 * shows its own state. A screenshot of each state is saved under a temp directory, printed.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_NETNS, Netns, ROOT } from "../proxy/netns.ts";
import { HAS_CHROMIUM } from "./has_chromium.ts";

Deno.test({
  name: "web-proxy:ui switch, consent, reload memory, broker down and no-WebRTC states",
  ignore: !CAN_NETNS || !HAS_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const outDir = await Deno.makeTempDir({ prefix: "web-proxy-ui-" });
    console.log(`web-proxy:ui screenshots in ${outDir}`);
    const ns = await Netns.create(42);
    // Chromium offers host candidates only on the default route's interface (unless mDNS
    // hides them): give the namespace one into its own veth, whose other end is also inside,
    // so nothing can leave.
    await new Deno.Command("ip", { args: ["-n", ns.name, "route", "add", "default", "dev", "va"] })
      .output();
    // deno-lint-ignore no-explicit-any
    let f: Record<string, any>;
    try {
      const out = await new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns.name,
          Deno.execPath(),
          "run",
          "-A",
          `${ROOT}/tests/web_proxy/ui_scenario.ts`,
          ns.a,
          outDir,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout).trim();
      const stderr = new TextDecoder().decode(out.stderr);
      try {
        f = JSON.parse(stdout.split("\n").at(-1) ?? "");
      } catch {
        throw new Error(`scenario failed:\n${stdout}\n${stderr.slice(-3000)}`);
      }
      console.log(JSON.stringify(f));
      assertEquals(f.error, undefined, `scenario: ${f.error}\n${stderr.slice(-3000)}`);
    } finally {
      await ns.delete();
    }
    assertEquals(f.first.state, "off", "a fresh browser starts switched off");
    assertEquals(f.consentShown, true, "consent is asked before starting");
    assertEquals(f.consentState, "consent");
    assertEquals(f.pollsBeforeConsent, 0, "nothing is polled before consent");
    assertEquals(f.polling.nat, "unrestricted", "the NAT probe ran");
    assertEquals(f.relaying.clients, 1, "the page counts the client");
    assertEquals(f.relayOpen, 1);
    assertEquals(f.clientClosed, true, "switching off closes the client's channel");
    assertEquals(f.relayOpenAfterOff, 0, "switching off closes the relay");
    assert(/current snowflakes available: 0/.test(f.brokerDebugAfterOff), f.brokerDebugAfterOff);
    assertEquals(f.pollsAfterOff, 0, "no poll after switching off");
    assert(f.abortedPolls >= 1, "switching off aborts the poll in flight");
    assert(
      /current snowflakes available: 0/.test(f.brokerDebugOffWhilePolling),
      f.brokerDebugOffWhilePolling,
    );
    assertEquals(f.off.clients, 1, "the counters stay after switching off");
    assertEquals(
      [f.reloadedOff.state, f.reloadedOff.checked],
      ["off", false],
      "off survives a reload",
    );
    assertEquals(
      [f.reloadedOff.clients, f.reloadedOff.bytes],
      [f.off.clients, f.off.bytes],
      "the totals survive a reload",
    );
    assertEquals(f.consentAskedAgain, false, "consent is remembered");
    assertEquals(f.reloadedOn.checked, true, "on survives a reload");
    assertEquals(f.reloadedOnPolling.state, "polling");
    assertEquals(f.brokerDown.state, "broker-down");
    assertEquals(f.recovered.state, "polling", "the page recovers when the broker is back");
    assertEquals(f.noWebRTC.state, "no-webrtc");
    assertEquals(f.webrtcFenced.state, "no-webrtc", "WebRTC that gathers nothing is blocked too");
    for (
      const name of [
        "1-off",
        "2-consent",
        "3-polling",
        "4-relaying",
        "5-switched-off",
        "6-reloaded-on-polling",
        "7-broker-down",
        "8-no-webrtc",
        "9-webrtc-fenced",
      ]
    ) {
      assert((await Deno.stat(`${outDir}/${name}.png`)).size > 1000, `${name}.png saved`);
    }
  },
});
