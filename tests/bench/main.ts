/**
 * `deno task bench`: runs every tests/bench/*_bench.ts (each exports `run()`,
 * which prints its figures beside the reference peer's). Pass names to run a
 * subset: `deno task bench kcp server`. Words that name no benchmark go to the
 * one benchmark named, as its own command line: `deno task bench server serial`.
 */
const dir = new URL(".", import.meta.url);
const benches = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith("_bench.ts"))
  .sort();
const names = Deno.args.filter((a) => benches.some((n) => n.startsWith(a)));
const rest = Deno.args.filter((a) => !names.includes(a));
const files = benches.filter((n) => names.length === 0 || names.some((w) => n.startsWith(w)));
if (names.length === 0 && rest.length > 0) {
  console.error(`no benchmarks match ${rest.join(", ")}`);
  Deno.exit(2);
}
if (rest.length > 0 && files.length !== 1) {
  console.error(`${rest.join(" ")}: arguments apply to one benchmark; ${files.join(", ")} match`);
  Deno.exit(2);
}
if (rest.length > 0) {
  const file = new URL(files[0]!, dir).pathname;
  const args = ["run", "--unstable-net", "--allow-all", file, ...rest];
  const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
  Deno.exit(code);
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
