/**
 * The server half of the sctp transport (README: sctp transport): every SCTP stream from a
 * client goes to tor: the ExtORPort (USERADDR = the association's peer address, TRANSPORT
 * sctp) or the plain ORPort.
 *
 * @module
 */
import { dialOr, type OrTarget, type TcpConnect } from "../../lib/pt/extorport.ts";
import { listenSctp, type SctpListener, type SctpListenerStats } from "../../lib/sctp/mod.ts";
import { denoConnect, pipeStream } from "../orport.ts";

/** The transport's name in TOR_PT_SERVER_TRANSPORTS and SMETHOD lines. */
export const SCTP_METHOD = "sctp";

/** Options for {@link runSctpServer}. */
export interface SctpServerOptions {
  /** TOR_PT_SERVER_BINDADDR's address for sctp: the UDP encapsulation (and SCTP) port. */
  bind: { hostname: string; port: number };
  or: OrTarget;
  connect?: TcpConnect;
  log: (message: string) => void;
  /** Associations at once (default 10,000). */
  maxAssociations?: number;
  /** Seconds without user data before an association is closed (default 600). */
  autocloseSeconds?: number;
}

/** A running server half. */
export interface SctpServer {
  readonly stats: SctpListenerStats;
  /** Resolves when the listener has stopped (after {@link close}). */
  readonly done: Promise<void>;
  close(): void;
}

/** Listens on `bind` and relays every stream to tor until closed. */
export function runSctpServer(options: SctpServerOptions): SctpServer {
  const listener: SctpListener = listenSctp({
    hostname: options.bind.hostname,
    port: options.bind.port,
    maxAssociations: options.maxAssociations,
    autocloseSeconds: options.autocloseSeconds,
    log: options.log,
  });
  let streams = 0;
  const done = (async () => {
    for await (const stream of listener) {
      const n = ++streams;
      const userAddr = stream.remoteAddr.toString();
      (async () => {
        let or;
        try {
          or = await dialOr(
            options.or,
            { userAddr, transport: SCTP_METHOD },
            options.connect ?? denoConnect,
          );
        } catch (e) {
          options.log(
            `sctp stream ${n} from ${userAddr}: cannot reach tor: ${(e as Error).message}`,
          );
          stream.close();
          return;
        }
        const r = await pipeStream(stream, or);
        options.log(`sctp stream ${n} closed: ${r.up} bytes up, ${r.down} down`);
      })();
    }
  })();
  options.log(`sctp listening on UDP ${options.bind.hostname}:${options.bind.port}`);
  return { stats: listener.stats, done, close: () => listener.close() };
}
