/**
 * The client as its binary in standalone mode on loopback, for tests that talk SOCKS to it
 * and read its log.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Options for {@link withClient}. */
export interface ClientOptions {
  /** Broker URL (default: a loopback port where nothing listens). */
  url?: string;
  /** Extra environment of the client. */
  env?: Record<string, string>;
}

/** Runs `fn` with a standalone client on a SOCKS port, given `extra` flags; stops it after. */
export async function withClient(
  extra: string[],
  fn: (port: number, log: () => string) => Promise<void>,
  options: ClientOptions = {},
): Promise<void> {
  const port = freeTcpPort();
  const dir = await Deno.makeTempDir({ prefix: "sfclient-socks-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: runArgs("client", [
      "--socks",
      `127.0.0.1:${port}`,
      "--url",
      options.url ?? `http://127.0.0.1:${freeTcpPort()}/`,
      "--log",
      `${dir}/client.log`,
      ...extra,
    ]),
    cwd: ROOT,
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const log = () => {
    try {
      return Deno.readTextFileSync(`${dir}/client.log`);
    } catch {
      return "";
    }
  };
  try {
    for (let i = 0; !/SOCKS listener/.test(log()); i++) {
      if (i > 300) throw new Error("client did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    await fn(port, log);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends `bytes`, returns whatever comes back before the client closes (or 2 s pass). */
export async function exchange(port: number, bytes: number[]): Promise<number[]> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new Uint8Array(bytes));
  const got: number[] = [];
  const buf = new Uint8Array(64);
  const timer = setTimeout(() => c.close(), 2000);
  try {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      got.push(...buf.subarray(0, n));
    }
  } catch { /* closed by the timer */ }
  clearTimeout(timer);
  try {
    c.close();
  } catch { /* closed */ }
  return got;
}

/** Waits up to 5 s for `ok`. */
export const until = async (ok: () => boolean) => {
  for (let i = 0; i < 50 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
};
