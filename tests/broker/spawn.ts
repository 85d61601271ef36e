/**
 * Runs `broker-proxy broker` (proxy/main.ts with the flags of tools/permissions.ts) for the
 * broker tests, and small helpers to talk to it.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

export interface BrokerProcess {
  url: string;
  port: number;
  pid: number;
  /** Everything the broker logged so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts the broker on a free loopback port: plain HTTP, or TLS from a certificate file
 * (`tls`), or from whatever `tlsArgs` say (e.g. ACME flags).
 */
export async function spawnBroker(
  args: string[],
  opts: {
    tls?: { cert: string; key: string };
    tlsArgs?: string[];
    env?: Record<string, string>;
    cmdPrefix?: string[];
    hostname?: string;
  } = {},
): Promise<BrokerProcess> {
  const port = freeTcpPort();
  const host = opts.hostname ?? "127.0.0.1";
  const tlsArgs = opts.tlsArgs ??
    (opts.tls ? ["--cert", opts.tls.cert, "--key", opts.tls.key] : ["--disable-tls"]);
  const argv = runArgs("broker-proxy", [
    "broker",
    "--addr",
    `${host}:${port}`,
    ...tlsArgs,
    ...args,
  ]);
  const [cmd, ...cmdArgs] = [...(opts.cmdPrefix ?? []), Deno.execPath(), ...argv];
  const child = new Deno.Command(cmd!, {
    args: cmdArgs,
    cwd: ROOT,
    env: opts.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  const deadline = Date.now() + 30_000;
  while (!/listening on/.test(text)) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`broker did not start:\n${text}`);
    }
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 100)),
    ]);
    if (exited) throw new Error(`broker exited:\n${text}`);
  }
  return {
    url: `${opts.tls || opts.tlsArgs ? "https" : "http"}://${host}:${port}/`,
    port,
    pid: child.pid,
    log: () => text,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await child.status;
      clearTimeout(t);
      await pump;
    },
  };
}

/** POSTs `body` to `url` and returns status and text. */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method: "POST", body, headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** A fake SDP with one candidate, wrapped as the broker messages carry it. */
export function fakeSdp(type: "offer" | "answer", tag: string): string {
  const sdp = `v=0\r\no=- ${tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` +
    `a=candidate:1 1 udp 2122260223 192.0.2.7 5000 typ host\r\n`;
  return JSON.stringify({ type, sdp });
}
