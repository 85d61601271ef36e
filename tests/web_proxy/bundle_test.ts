/**
 * `web-proxy:bundle`: the committed page script (proxy/web/dist/web-proxy.js) is exactly what
 * `deno task bundle-web-proxy` builds from the sources now, so it never drifts; it is built from
 * the proxy core the binary runs, and nothing Deno- or Node-only got into it.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { bundleWebProxy, WEB_PROXY_BUNDLE } from "../../tools/bundle_web_proxy.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("web-proxy:bundle: the committed bundle is what the sources build, core included", async () => {
  const { code, inputs } = await bundleWebProxy();
  const committed = await Deno.readTextFile(`${ROOT}${WEB_PROXY_BUNDLE}`);
  assert(
    code === committed,
    `${WEB_PROXY_BUNDLE} differs from a fresh build: run \`deno task bundle-web-proxy\` and commit`,
  );
  for (const source of ["proxy/relay/core.ts", "proxy/web/env.ts", "lib/snowflake/webrtc.ts"]) {
    assert(inputs.includes(source), `the bundle is built from ${source}: ${inputs.join(", ")}`);
  }
  assertEquals(inputs.filter((i) => i.startsWith("node_modules/") || i.startsWith("node:")), []);
  assert(!/\bDeno\./.test(code), "no Deno API in the page's script");
  assert(!/\brequire\(/.test(code), "no CommonJS require in the page's script");
});
