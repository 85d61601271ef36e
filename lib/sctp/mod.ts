/**
 * SCTP over UDP encapsulation (RFC 6951) through usrsctp: an association whose streams are
 * {@link Conn}s, a listener for the server and a reconnecting dialer for the client.
 *
 * @example
 * ```ts ignore
 * const listener = listenSctp({ hostname: "0.0.0.0", port: 9899 });
 * for await (const stream of listener) pipe(stream);
 * // elsewhere (another process: one usrsctp stack per process)
 * const dialer = new SctpDialer({ hostname: "192.0.2.1", port: 9899 });
 * const conn = await dialer.dial();
 * ```
 *
 * @module
 */
export type { Conn } from "../net/types.ts";
export {
  Association,
  MAX_MESSAGE,
  PPID_DATA,
  PPID_FIN,
  PPID_OPEN,
  SctpStream,
} from "./association.ts";
export { freeUdpPort } from "./usrsctp.ts";
export { SctpDialer, type SctpDialOptions } from "./dialer.ts";
export {
  listenSctp,
  SctpListener,
  type SctpListenerStats,
  type SctpListenOptions,
} from "./listener.ts";
