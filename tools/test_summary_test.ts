import { assertEquals } from "../lib/testing/assert.ts";

const DENO = Deno.execPath();
const SUMMARY = new URL("./test_summary.sh", import.meta.url).pathname;

/** Runs `deno test` on a file with one passing and one ignored test, then the summary. */
async function summarise(ci: boolean): Promise<{ code: number; text: string }> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/fixture_test.ts`,
      'Deno.test("runs", () => {});\nDeno.test({ name: "skipped", ignore: true, fn() {} });\n',
    );
    const run = await new Deno.Command(DENO, {
      args: ["test", "--no-config", `${dir}/fixture_test.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.writeFile(`${dir}/log`, run.stdout);
    const env: Record<string, string> = { CI: ci ? "1" : "" };
    const out = await new Deno.Command("bash", {
      args: [SUMMARY, `${dir}/log`, String(run.code), "0"],
      env,
      stdout: "piped",
    }).output();
    return { code: out.code, text: new TextDecoder().decode(out.stdout) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bounds: the test summary counts ignored tests, and CI fails on any", async () => {
  const local = await summarise(false);
  assertEquals(local.text.split("\n")[0], "1 passed, 0 failed, 1 ignored");
  assertEquals(local.code, 0);
  const ci = await summarise(true);
  assertEquals(ci.text.split("\n")[0], "1 passed, 0 failed, 1 ignored");
  assertEquals(ci.code, 1);
});
