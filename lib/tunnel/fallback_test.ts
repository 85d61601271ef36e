import { assert } from "../testing/assert.ts";

// Without --allow-ffi libsodium cannot load: SHA-256/HMAC/X25519 fall back to node:crypto and
// the "auto" cipher to libsodium-wrappers. The same known answers and an e2e run must pass.
Deno.test({
  name: "tunnel: without FFI the node:crypto and wasm fallbacks pass the known answers and e2e",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = new URL(".", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--no-prompt",
        "--allow-read",
        "--allow-env",
        "--allow-net",
        "--allow-sys",
        `${dir}messages_test.ts`,
        `${dir}keys_test.ts`,
        `${dir}e2e_test.ts`,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.success, text);
    assert(/ok \| \d+ passed \| 0 failed/.test(text), text);
  },
});
