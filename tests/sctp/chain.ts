/**
 * The sctp transport without tor, for the socks and flood tests and the benchmark. Two
 * namespaces joined by a veth pair (tests/client/netns.ts):
 *
 * - `a` (198.18.S.1): our server on UDP 9899, its "ORPort" a dante SOCKS5 server on
 *   127.0.0.1:1080, and an HTTP origin (:8001) serving a random file;
 * - `b` (198.18.S.2): our client in standalone mode (SOCKS on 127.0.0.1:1090) and curl.
 *
 * SCTP over UDP crosses the veth; the client replays each SOCKS request to dante, so curl
 * reaches the origin through every hop.
 *
 * @module
 */
import { sha256Hex } from "../../lib/testing/util.ts";
import { NsPair, type NsProc, waitUntil } from "../client/netns.ts";
import { DANTE_PORT, startDante } from "../client/chain.ts";
import { clientStandaloneCommand, DENO, ROOT, serverCommand } from "./peers.ts";

export const SERVER_UDP_PORT = 9899;
export const ORIGIN_PORT = 8001;
export const SOCKS_PORT = 1090;

/** One curl download's outcome. */
export interface Fetched {
  bytes: number;
  sha256: string;
  seconds: number;
}

/** A running chain. */
export class SctpChain {
  fileSha256 = "";
  server: NsProc | null = null;
  client: NsProc | null = null;
  #servers = 0;

  private constructor(readonly net: NsPair, readonly fileSize: number) {}

  get fileUrl(): string {
    return `http://${this.net.ipA}:${ORIGIN_PORT}/file.bin`;
  }

  /** Boots dante, the origin, our server and our client; resolves when all listen. */
  static async start(subnet: number, fileSize = 10_000_000): Promise<SctpChain> {
    const net = await NsPair.create(subnet);
    const chain = new SctpChain(net, fileSize);
    try {
      await chain.#boot();
    } catch (e) {
      chain.dumpLogs();
      await net.delete();
      throw e;
    }
    return chain;
  }

  /** Runs `fn` on a started chain; its logs are printed if `fn` throws, and it is stopped. */
  static async run(
    subnet: number,
    fileSize: number,
    fn: (chain: SctpChain) => Promise<void>,
  ): Promise<void> {
    const chain = await SctpChain.start(subnet, fileSize);
    try {
      await fn(chain);
    } catch (e) {
      chain.dumpLogs();
      throw e;
    } finally {
      await chain.stop();
    }
  }

  async #boot(): Promise<void> {
    const { net } = this;
    const d = net.dir;
    const data = new Uint8Array(this.fileSize);
    for (let off = 0; off < data.length; off += 65536) {
      crypto.getRandomValues(data.subarray(off, off + 65536));
    }
    await Deno.mkdir(`${d}/www`);
    await Deno.writeFile(`${d}/www/file.bin`, data);
    this.fileSha256 = await sha256Hex(data);
    await startDante(net, d);
    net.spawn(net.a, "origin", [
      DENO,
      "run",
      "--allow-net",
      "--allow-read",
      `${ROOT}/tests/e2e/origin.ts`,
      `${d}/www`,
      net.ipA,
      String(ORIGIN_PORT),
    ]);
    await this.startServer();
    this.client = net.spawn(
      net.b,
      "client",
      clientStandaloneCommand(`127.0.0.1:${SOCKS_PORT}`, `${net.ipA}:${SERVER_UDP_PORT}`),
    );
    await this.#waitListening(net.a, "127.0.0.1", DANTE_PORT);
    await this.#waitListening(net.a, net.ipA, ORIGIN_PORT);
    await this.#waitListening(net.b, "127.0.0.1", SOCKS_PORT);
  }

  /** Starts (or restarts) our server in `a`; resolves once it printed SMETHODS DONE. */
  async startServer(options = ""): Promise<NsProc> {
    const { net } = this;
    const state = `${net.dir}/server-state-${this.#servers}`;
    await Deno.mkdir(state);
    const { cmd, env } = serverCommand(
      `${net.ipA}:${SERVER_UDP_PORT}`,
      `127.0.0.1:${DANTE_PORT}`,
      state,
      options,
    );
    const server = net.spawn(net.a, `server${this.#servers++}`, cmd, env);
    this.server = server;
    await waitUntil(
      () => server.log().includes("SMETHODS DONE"),
      30_000,
      () => server.exited ? `server exited: ${server.log().slice(-2000)}` : null,
    );
    return server;
  }

  async #waitListening(ns: string, host: string, port: number): Promise<void> {
    await waitUntil(
      async () => {
        try {
          await this.net.exec(ns, ["bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`]);
          return true;
        } catch {
          return false;
        }
      },
      30_000,
      () => {
        const dead = this.net.procs.find((p) => p.exited);
        return dead ? `${dead.name} exited: ${dead.log().slice(-2000)}` : null;
      },
    );
  }

  /** Fetches the origin's file with curl through the client (in `b`). */
  async curl(proto: "--socks5-hostname" | "--socks4a" | "--socks4", maxSeconds = 120) {
    const out = `${this.net.dir}/curl-${crypto.randomUUID()}.bin`;
    const t0 = performance.now();
    await this.net.exec(this.net.b, [
      "curl",
      "-sS",
      "--fail",
      "--max-time",
      String(maxSeconds),
      proto,
      `127.0.0.1:${SOCKS_PORT}`,
      "-o",
      out,
      this.fileUrl,
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const data = await Deno.readFile(out);
    await Deno.remove(out);
    return { bytes: data.length, sha256: await sha256Hex(data), seconds } satisfies Fetched;
  }

  dumpLogs(): void {
    for (const p of this.net.procs) console.error(`--- ${p.name}\n${p.log().slice(-3000)}`);
  }

  async stop(): Promise<void> {
    await this.net.delete();
  }
}
