/**
 * Runs fauxqs (an SQS-compatible server from npm) on loopback for the SQS tests, as its own
 * Deno process: Debian's node 20 lacks the node:sqlite it needs.
 *
 * @module
 */
import { freeTcpPort } from "../../lib/testing/util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running fauxqs: its plain-HTTP endpoint. */
export interface Fauxqs {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startFauxqs(): Promise<Fauxqs> {
  const port = freeTcpPort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}node_modules/fauxqs/dist/cli.js`],
    env: { FAUXQS_PORT: String(port), FAUXQS_HOST: "127.0.0.1", FAUXQS_LOGGER: "false" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const r = await fetch(`${endpoint}/health`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not yet */ }
    if (i > 150) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error("fauxqs did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}
