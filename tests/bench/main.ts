/**
 * `deno task bench`: runs every tests/bench/*_bench.ts (each exports `run()`,
 * which prints its figures beside the reference peer's). Pass names to run a
 * subset: `deno task bench kcp server`.
 */
const dir = new URL(".", import.meta.url);
const wanted = Deno.args;
const files = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith("_bench.ts"))
  .filter((n) => wanted.length === 0 || wanted.some((w) => n.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks match ${wanted.join(", ")}`);
  Deno.exit(2);
}
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const started = performance.now();
  try {
    const mod = await import(new URL(file, dir).href);
    await mod.run();
  } catch (e) {
    failed++;
    console.error(`${file} failed: ${e instanceof Error ? e.stack : e}`);
  }
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
Deno.exit(failed ? 1 : 0);
