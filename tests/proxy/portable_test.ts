import { assert, assertEquals } from "../../lib/testing/assert.ts";

// proxy/relay/core.ts is meant to run in a web page too (docs/PROXY.md): everything it imports
// must use web APIs only. `Deno.NetAddr` in lib/net/addr.ts is a type, erased when bundled.
Deno.test("proxy: the core's whole module graph uses no Deno, Node or npm API", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "proxy/relay/core.ts"],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
  }).output();
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const specifiers = graph.modules.map((m) => m.specifier);
  assert(specifiers.length > 5, "the graph was read");
  const offenders: string[] = [];
  for (const specifier of specifiers) {
    if (!specifier.startsWith("file:")) {
      offenders.push(specifier);
      continue;
    }
    const text = await Deno.readTextFile(new URL(specifier));
    for (const [i, line] of text.split("\n").entries()) {
      if (/\bDeno\.(?!NetAddr\b)\w/.test(line) || /from "(node:|npm:|@)/.test(line)) {
        offenders.push(`${specifier}:${i + 1}: ${line.trim()}`);
      }
    }
  }
  assertEquals(offenders, []);
});
