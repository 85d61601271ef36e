/**
 * Runs Debian's pebble (Let's Encrypt's ACME test server) on loopback for the
 * `acme:` tests: a fresh test CA for its HTTPS listener, a DNS stub that
 * resolves every name to 127.0.0.1, and a VA that checks HTTP-01 on
 * `challengePort`. `stop()` kills only the pebble it started.
 *
 * @module
 */
import { freeTcpPort } from "../../lib/testing/util.ts";
import { makeCert } from "../client/tls_front.ts";
import { startDnsStub } from "./dns_stub.ts";

export interface Pebble {
  /** ACME directory URL. */
  directoryUrl: string;
  /** PEM file of the CA that signed pebble's HTTPS listener certificate. */
  caCertFile: string;
  /** Port pebble's VA connects to for HTTP-01. */
  challengePort: number;
  /** PEM of pebble's issuing root (from /roots/0) for clients of issued certificates. */
  issuingRoot(): Promise<string>;
  /** Lines pebble printed so far. */
  output(): string;
  /** Kills pebble (our pid only) and removes its files. Idempotent. */
  stop(): Promise<void>;
}

/** Writes ca.pem, cert.pem and key.pem for pebble's HTTPS listener (localhost, 127.0.0.1). */
async function makeListenerCert(dir: string): Promise<void> {
  const cert = await makeCert(["localhost"]);
  await Deno.writeTextFile(`${dir}/ca.pem`, cert.caPem);
  await Deno.writeTextFile(`${dir}/cert.pem`, cert.certPem);
  await Deno.writeTextFile(`${dir}/key.pem`, cert.keyPem);
}

/** Starts pebble; `validitySeconds` sets the lifetime of the certificates it issues. */
export async function startPebble(
  options: { challengePort: number; validitySeconds?: number },
): Promise<Pebble> {
  const dir = await Deno.makeTempDir({ prefix: "acme-pebble-" });
  const dns = startDnsStub();
  let child: Deno.ChildProcess | undefined;
  let text = "";
  const stop = async () => {
    dns.close();
    if (child) {
      const c = child;
      child = undefined;
      try {
        c.kill("SIGKILL");
      } catch {
        // already gone
      }
      await c.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await makeListenerCert(dir);
    const port = freeTcpPort();
    const mgmtPort = freeTcpPort();
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${port}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: `${dir}/cert.pem`,
          privateKey: `${dir}/key.pem`,
          httpPort: options.challengePort,
          tlsPort: freeTcpPort(),
          ocspResponderURL: "",
          externalAccountBindingRequired: false,
          ...(options.validitySeconds
            ? { certificateValidityPeriod: options.validitySeconds }
            : {}),
        },
      }),
    );
    child = new Deno.Command("pebble", {
      args: ["-config", `${dir}/config.json`, "-dnsserver", `127.0.0.1:${dns.port}`],
      env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const ready = Promise.withResolvers<void>();
    const decoder = new TextDecoder();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        text += decoder.decode(chunk);
        if (text.includes("Listening on")) ready.resolve();
      }
    };
    pump(child.stdout).catch(() => {});
    pump(child.stderr).catch(() => {});
    child.status.then((s) => ready.reject(new Error(`pebble exited (${s.code}): ${text}`)));
    const timer = setTimeout(() => ready.reject(new Error(`pebble not ready: ${text}`)), 10_000);
    try {
      await ready.promise;
    } finally {
      clearTimeout(timer);
    }
    const caCertFile = `${dir}/ca.pem`;
    return {
      directoryUrl: `https://127.0.0.1:${port}/dir`,
      caCertFile,
      challengePort: options.challengePort,
      output: () => text,
      stop,
      issuingRoot: async () => {
        const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caCertFile)] });
        try {
          const res = await fetch(
            `https://127.0.0.1:${mgmtPort}/roots/0`,
            { client } as RequestInit,
          );
          if (!res.ok) throw new Error(`pebble /roots/0: HTTP ${res.status}`);
          return await res.text();
        } finally {
          client.close();
        }
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
