/** Entry point of the server binary. Not built yet: see the open issues. */
if (import.meta.main) {
  console.error("server: not implemented yet");
  Deno.exit(1);
}
