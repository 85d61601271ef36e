import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { exists, Proc, waitFor } from "./harness.ts";

Deno.test("e2e:proc-stop: a process ignoring SIGTERM is SIGKILLed and stop() resolves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "e2e-proc-" });
  try {
    const child = new Deno.Command("bash", {
      args: ["-c", `trap '' TERM; touch ${dir}/ready; exec sleep 60`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const proc = new Proc("sigterm-ignorer", child, `${dir}/out`);
    await waitFor(() => exists(`${dir}/ready`), 10_000);
    // Nothing else holds the event loop while stop() waits past the SIGKILL.
    await proc.stop(200);
    assert(proc.exited);
    assertEquals((await proc.status).signal, "SIGKILL");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
