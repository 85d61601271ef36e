/**
 * The shared end-to-end environment of the tunnel tests: one {@link Topology}
 * with a pytunnel server and clients A and B running from source with their
 * release permission flags, configs and keys in the scratch directory.
 *
 * Server tunnel 10.9.0.1/24; peers: a 10.9.0.2, b 10.9.0.3, c 10.9.0.4 (used
 * with a wrong address by the ACL test).
 *
 * @module
 */

import { encodeKey, generatePrivateKey, publicKeyOf } from "../../pytunnel/core.ts";
import { fetchStatus } from "../../pytunnel/control.ts";
import type { StatusReport } from "../../pytunnel/report.ts";
import { type Proc, Topology } from "./netns.ts";

export const PORT = 51820;
export const SERVER_TUN = "10.9.0.1";

/** A key pair, base64. */
export interface Keys {
  priv: string;
  pub: string;
}

export function newKeys(): Keys {
  const priv = generatePrivateKey();
  return { priv: encodeKey(priv), pub: encodeKey(publicKeyOf(priv)) };
}

/** Everything the e2e tests share. */
export class TunnelEnv {
  server!: Proc;
  clientA!: Proc;
  clientB!: Proc;
  keys: Record<"server" | "a" | "b" | "c", Keys> = {} as Record<"server" | "a" | "b" | "c", Keys>;
  readonly serverSock: string;
  readonly aSock: string;
  readonly bSock: string;

  private constructor(readonly topo: Topology) {
    this.serverSock = `${topo.dir}/server.sock`;
    this.aSock = `${topo.dir}/a.sock`;
    this.bSock = `${topo.dir}/b.sock`;
  }

  /** `handshakesPerSecond` sets the server's per-source limit (the benchmark lifts it). */
  static async create(handshakesPerSecond = 50): Promise<TunnelEnv> {
    const topo = Topology.create();
    const env = new TunnelEnv(topo);
    try {
      for (const k of ["server", "a", "b", "c"] as const) env.keys[k] = newKeys();
      topo.file("server.key", env.keys.server.priv + "\n");
      topo.file(
        "server.yaml",
        [
          `listen_port: ${PORT}`,
          `private_key_file: server.key`,
          `tunnel_ip: ${SERVER_TUN}/24`,
          `interface: pyt0`,
          `mtu: 1420`,
          `status: ${env.serverSock}`,
          `rate_limit: { handshakes_per_second: ${handshakesPerSecond}, burst: ${
            2 * handshakesPerSecond
          } }`,
          `peers:`,
          `  - { name: a, public_key: "${env.keys.a.pub}", tunnel_ip: 10.9.0.2 }`,
          `  - { name: b, public_key: "${env.keys.b.pub}", tunnel_ip: 10.9.0.3 }`,
          `  - { name: c, public_key: "${env.keys.c.pub}", tunnel_ip: 10.9.0.4 }`,
        ].join("\n") + "\n",
      );
      env.writeClient(
        "a.yaml",
        env.keys.a.priv,
        `${topo.serverIpA}:${PORT}`,
        "10.9.0.2",
        env.aSock,
      );
      env.writeClient(
        "b.yaml",
        env.keys.b.priv,
        `${topo.serverIpB}:${PORT}`,
        "10.9.0.3",
        env.bSock,
      );
      // Cookie replies to spoofed flood sources need a route; client A's namespace drops them.
      await topo.run(topo.server, "ip", ["route", "add", "10.200.0.0/16", "via", topo.clientIpA]);
      env.server = topo.pytunnel(topo.server, ["server", "-c", `${topo.dir}/server.yaml`]);
      await env.server.waitFor(/server started/);
      env.clientA = await env.startClient(topo.clientA, "a.yaml");
      env.clientB = await env.startClient(topo.clientB, "b.yaml");
    } catch (e) {
      await topo.destroy();
      throw e;
    }
    return env;
  }

  /** Writes a client config into the scratch directory. */
  writeClient(
    name: string,
    priv: string,
    server: string,
    tunnelIp: string,
    status?: string,
    extra: string[] = [],
  ): string {
    return this.topo.file(
      name,
      [
        `server: ${server}`,
        `server_public_key: "${this.keys.server.pub}"`,
        `private_key: "${priv}"`,
        `tunnel_ip: ${tunnelIp}/24`,
        `interface: pyt0`,
        `keepalive: 5`,
        ...(status ? [`status: ${status}`] : []),
        ...extra,
      ].join("\n") + "\n",
    );
  }

  /** Starts a client from a config in the scratch directory; waits for its first handshake. */
  async startClient(ns: string, config: string, handshake = true): Promise<Proc> {
    const p = this.topo.pytunnel(ns, ["client", "-c", `${this.topo.dir}/${config}`]);
    await p.waitFor(handshake ? /handshake with the server complete/ : /client started/, 30_000);
    return p;
  }

  /** The server's status report. */
  serverStatus(): Promise<StatusReport> {
    return fetchStatus({ path: this.serverSock }) as Promise<StatusReport>;
  }

  /** A client's status report. */
  clientStatus(sock: string): Promise<StatusReport> {
    return fetchStatus({ path: sock }) as Promise<StatusReport>;
  }

  async destroy(): Promise<void> {
    await this.topo.destroy();
  }
}

let shared: Promise<TunnelEnv> | undefined;

/** The one environment of this test process, created on first use. */
export function tunnelEnv(): Promise<TunnelEnv> {
  shared ??= TunnelEnv.create();
  return shared;
}

/** Polls `fn` until it returns true (checks state, not time: the timeout only ends a hang). */
export async function until(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
