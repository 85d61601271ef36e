/**
 * Writes the dev tasks of deno.json (`deno task pytunnel -- …` and the others)
 * from tools/permissions.ts: run it after changing a binary's flags
 * (`deno run --allow-read --allow-write tools/dev_tasks.ts`). A `cli:` test
 * fails while deno.json and permissions.ts disagree.
 */
import { DEV_TASKS, devTaskCommand } from "./permissions.ts";

const path = new URL("../deno.json", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(path));
for (const task of Object.keys(DEV_TASKS)) config.tasks[task] = devTaskCommand(task);
Deno.writeTextFileSync(path, JSON.stringify(config, null, 2) + "\n");
console.log(`deno.json: ${Object.keys(DEV_TASKS).join(", ")} written`);
