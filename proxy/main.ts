/** Entry point of the proxy binary. Not built yet: see the open issues. */
if (import.meta.main) {
  console.error("proxy: not implemented yet");
  Deno.exit(1);
}
