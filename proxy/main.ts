/** Entry point of the proxy binary. Not built yet: see the open issues. */
import "../lib/process/no_inspector.ts";

if (import.meta.main) {
  console.error("proxy: not implemented yet");
  Deno.exit(1);
}
