/**
 * Builds the web proxy page's one script, proxy/web/dist/web-proxy.js, from proxy/web/page.ts
 * and everything it imports (the proxy core included) with esbuild from node_modules (no
 * network). `deno task bundle-web-proxy` writes it; tests/web_proxy/bundle_test.ts rebuilds it
 * in memory and fails when the committed file differs.
 *
 * @module
 */
import * as esbuild from "esbuild";

const ROOT = new URL("../", import.meta.url).pathname;
export const WEB_PROXY_ENTRY = "proxy/web/page.ts";
export const WEB_PROXY_BUNDLE = "proxy/web/dist/web-proxy.js";

/** The bundle's text and the source files it was built from (paths relative to the repo). */
export async function bundleWebProxy(): Promise<{ code: string; inputs: string[] }> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [WEB_PROXY_ENTRY],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    charset: "utf8",
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
    banner: {
      js: `// Generated from ${WEB_PROXY_ENTRY} by tools/bundle_web_proxy.ts. Do not edit.`,
    },
  });
  await esbuild.stop();
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild produced no output");
  return { code: file.text, inputs: Object.keys(result.metafile.inputs).sort() };
}

if (import.meta.main) {
  const { code, inputs } = await bundleWebProxy();
  await Deno.mkdir(new URL("proxy/web/dist/", `file://${ROOT}`), { recursive: true });
  await Deno.writeTextFile(`${ROOT}${WEB_PROXY_BUNDLE}`, code);
  console.log(`${WEB_PROXY_BUNDLE}: ${code.length} bytes from ${inputs.length} sources`);
}
