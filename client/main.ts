/** Entry point of the client binary. Not built yet: see the open issues. */
import "../lib/process/no_inspector.ts";

if (import.meta.main) {
  console.error("client: not implemented yet");
  Deno.exit(1);
}
