/** Entry point of the pytunnel binary. Not built yet: see the open issues. */
if (import.meta.main) {
  console.error("pytunnel: not implemented yet");
  Deno.exit(1);
}
