/**
 * One pytunnel server or client: TUN device + UDP socket + tunnel core, its
 * status endpoint and its log ring. `pytunnel server|client` run one directly;
 * `pytunnel ui` starts and stops one from the web page.
 *
 * @module
 */

import { Logger } from "../lib/log/logger.ts";
import { UdpPacketConn } from "../lib/net/udp.ts";
import { type LinuxTun, openTun, TunError } from "../lib/tunnel/tun_linux.ts";
import type { ClientConfig, ServerConfig } from "./config.ts";
import { serveStatus } from "./control.ts";
import { type CoreHandle, createClientCore, createServerCore, serverAddress } from "./core.ts";
import { LogRing } from "./logring.ts";
import { RebindablePacketConn } from "./rebind.ts";
import { CpuMeter, type StatusReport } from "./report.ts";

/** Role and its validated configuration. */
export type RoleConfig =
  | { role: "server"; config: ServerConfig }
  | { role: "client"; config: ClientConfig };

/**
 * Every tunnel socket: a 4 MiB receive buffer for bursts (a flood, a fast
 * TCP stream) and batched recvmmsg/sendmmsg, far less CPU per packet.
 */
const UDP_OPTIONS = { socketBuffer: 4 << 20, batch: {} };

const EBUSY = 16;

/**
 * openTun, waiting up to 3 s while the interface is busy: the kernel releases
 * a device a moment after its last user closed it (Stop then Start at once).
 */
async function openTunReleased(options: Parameters<typeof openTun>[0]): Promise<LinuxTun> {
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      return await openTun(options);
    } catch (e) {
      if (!(e instanceof TunError && e.code === EBUSY) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** How the UDP socket runs: batched or not, and its receive buffer. */
function udpDetails(bind: RebindablePacketConn | UdpPacketConn | undefined): string {
  const udp = bind instanceof RebindablePacketConn ? bind.conn : bind;
  if (!(udp instanceof UdpPacketConn)) return "?";
  const buffer = udp.socketBuffer === null
    ? "default buffer"
    : `buffer ${udp.socketBuffer >> 10} KiB`;
  return `${udp.batched ? "recvmmsg/sendmmsg" : "plain reads"}, ${buffer}`;
}

/** Options of {@link Instance}. */
export interface InstanceOptions {
  /** Keep IP addresses in logs (default: scrubbed). */
  unsafeLogging?: boolean;
  /** Where log lines go besides the ring (default stderr). */
  write?: (line: string) => void;
}

/** A startable, stoppable tunnel endpoint (implements the web page's Controller). */
export class Instance {
  readonly logs = new LogRing();
  readonly logger: Logger;
  #rc: RoleConfig;
  #core?: CoreHandle;
  #tun?: LinuxTun;
  #bind?: RebindablePacketConn | UdpPacketConn;
  #status?: Deno.HttpServer;
  #startedAt: string | null = null;
  #cpu = new CpuMeter();
  #busy = false;
  /** The stop in progress: a start waits for it to release the interface. */
  #stopping: Promise<void> = Promise.resolve();

  constructor(rc: RoleConfig, options: InstanceOptions = {}) {
    this.#rc = rc;
    const write = options.write ?? ((l: string) => console.error(l));
    this.logger = new Logger({
      unsafe: options.unsafeLogging,
      write: (line) => {
        this.logs.push(line);
        write(line);
      },
    });
  }

  get role(): "server" | "client" {
    return this.#rc.role;
  }

  running(): boolean {
    return this.#core !== undefined;
  }

  /** Creates the TUN device, binds UDP, starts the core and the status endpoint. */
  async start(): Promise<void> {
    if (this.#core || this.#busy) return;
    this.#busy = true;
    try {
      await this.#stopping;
      const rc = this.#rc;
      const cfg = rc.config;
      const tun = await openTunReleased({
        name: cfg.interface,
        mtu: cfg.mtu,
        address: cfg.tunnelIp,
        address6: cfg.tunnelIp6,
      });
      try {
        if (rc.role === "server") {
          const bind = UdpPacketConn.listen(
            rc.config.listenAddress,
            rc.config.listenPort,
            UDP_OPTIONS,
          );
          this.#bind = bind;
          this.#core = await createServerCore(rc.config, tun, bind, this.logger);
        } else {
          // An IPv6 server needs an IPv6 socket.
          const host = await serverAddress(rc.config);
          const any = host.includes(":") ? "::" : "0.0.0.0";
          const bind = new RebindablePacketConn(() => UdpPacketConn.listen(any, 0, UDP_OPTIONS));
          this.#bind = bind;
          this.#core = await createClientCore(rc.config, tun, bind, this.logger, host);
        }
      } catch (e) {
        this.#bind?.close();
        tun.close();
        throw e;
      }
      this.#tun = tun;
      this.#startedAt = new Date().toISOString();
      if (cfg.status && !this.#status) {
        this.#status = serveStatus(cfg.status, {
          report: () => this.report(),
          roam: () => this.rebind(),
        });
      }
      this.logger.log(
        `${rc.role} started on ${tun.name} (${cfg.tunnelIp}, mtu ${cfg.mtu}), ` +
          `udp ${this.#bind?.localAddr} (${udpDetails(this.#bind)})`,
      );
    } finally {
      this.#busy = false;
    }
  }

  /** Stops the core, closes the socket and removes the TUN device. */
  stop(): Promise<void> {
    const core = this.#core;
    if (!core) return this.#stopping;
    this.#core = undefined;
    this.#stopping = this.#stop(core);
    return this.#stopping;
  }

  async #stop(core: CoreHandle): Promise<void> {
    await core.stop();
    this.#bind?.close();
    this.#bind = undefined;
    this.#tun?.close();
    this.#tun = undefined;
    this.#startedAt = null;
    this.logger.log(`${this.#rc.role} stopped`);
  }

  /**
   * Moves a running client to a new UDP source port (roaming: SIGHUP or
   * `pytunnel roam`); its new local address, or null when there is nothing to move.
   */
  rebind(): string | null {
    if (!(this.#bind instanceof RebindablePacketConn)) return null;
    const addr = String(this.#bind.rebind());
    this.logger.log(`rebound UDP socket to ${addr}`);
    return addr;
  }

  /** Closes the status endpoint too; the instance cannot be restarted after this. */
  async close(): Promise<void> {
    await this.stop();
    await this.#status?.shutdown();
    this.#status = undefined;
    const st = this.#rc.config.status;
    if (st && "path" in st) {
      try {
        Deno.removeSync(st.path);
      } catch { /* gone */ }
    }
  }

  report(): StatusReport {
    const stats = this.#core?.report();
    return {
      role: this.#rc.role,
      running: this.running(),
      interface: this.#tun?.name ?? null,
      tunnelIp: this.#rc.config.tunnelIp,
      startedAt: this.#startedAt,
      counters: stats?.counters ?? {},
      drops: stats?.drops ?? {},
      peers: stats?.peers ?? [],
      process: { cpuPercent: this.#cpu.sample(), rssBytes: Deno.memoryUsage().rss },
    };
  }
}
