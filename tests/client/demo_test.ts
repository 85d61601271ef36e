/**
 * `demo:` the README's main job (tools/demo.sh) runs the real chain — tor, our client, our
 * broker, two of our proxies, our server, the private Tor network — kills the proxy carrying
 * the session halfway through a 10 MB download, and ends with a PASS verdict.
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_RUN } from "../e2e/harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "demo: the main job passes with a proxy killed halfway",
  ignore: !CAN_RUN,
  async fn() {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}tools/demo.sh`],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const verdict = text.split("\n").filter((l) => l.startsWith("demo: ")).at(-1) ?? "";
    console.log(text.split("\n").filter((l) => l.startsWith("demo:")).join("\n"));
    assert(
      /^demo: PASS/.test(verdict),
      `${verdict}\n${new TextDecoder().decode(out.stderr).slice(-3000)}`,
    );
    assert(/killing our-proxy\d/.test(text), text);
    assertEquals(out.code, 0);
  },
});
