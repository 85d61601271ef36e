/**
 * The client side: one association to the server, one SCTP stream per {@link dial}. The
 * association is set up on first use; when it is lost it is set up again, with exponential
 * backoff, while anyone waits for a stream. Dials wait for the association instead of failing.
 *
 * @module
 */
import { HostPortAddr } from "../net/addr.ts";
import { ClosedError } from "../net/errors.ts";
import { sleep } from "../net/sleep.ts";
import type { Conn, Dialer } from "../net/types.ts";
import { Association } from "./association.ts";
import { decodeNotification } from "./notification.ts";
import {
  freeUdpPort,
  MSG_NOTIFICATION,
  SOCK_STREAM,
  usrsctpPort,
  UsrsctpSocket,
  usrsctpStack,
  type UsrsctpSymbols,
} from "./usrsctp.ts";

/** Options for {@link SctpDialer}. */
export interface SctpDialOptions {
  /** The server's IP and UDP encapsulation port. */
  hostname: string;
  port: number;
  /** The server's SCTP port (default: `port`). */
  sctpPort?: number;
  /** Our UDP encapsulation port (default: the process's stack, or a free one). */
  localUdpPort?: number;
  /** Streams asked for (default 1024). */
  streams?: number;
  /** Largest message sent (default 16 KiB; usrsctp's echo_server echoes up to 10,240). */
  maxMessage?: number;
  /** First and largest wait between attempts to set up the association (1 s, 30 s). */
  backoffMs?: { initial: number; max: number };
  /** Called on each association change, for logs. */
  onEvent?: (event: "up" | "down" | "retry", detail: string) => void;
}

interface Live {
  socket: UsrsctpSocket;
  association: Association;
}

/** One association, reconnected on demand; each dial opens a stream on it. */
export class SctpDialer implements Dialer {
  readonly #options: SctpDialOptions;
  #live: Live | null = null;
  #connecting: Promise<Live> | null = null;
  #closed = false;
  #attempts = 0;
  readonly #stop = new AbortController();
  /** The receive loop's outstanding recv, for close(). */
  #pending: Promise<unknown> | undefined;

  constructor(options: SctpDialOptions) {
    this.#options = options;
  }

  /** Opens a stream, first waiting for the association if there is none. */
  async dial(signal?: AbortSignal): Promise<Conn> {
    for (;;) {
      if (this.#closed) throw new ClosedError("SCTP dialer");
      const live = this.#live ?? await this.#connect(signal);
      try {
        return await live.association.open(signal);
      } catch (e) {
        signal?.throwIfAborted();
        if (!live.association.failed) throw e;
      }
    }
  }

  /** Whether an association is up now. */
  get connected(): boolean {
    return this.#live !== null;
  }

  #connect(signal?: AbortSignal): Promise<Live> {
    this.#connecting ??= this.#establish().finally(() => (this.#connecting = null));
    if (!signal) return this.#connecting;
    return new Promise<Live>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#connecting!.then(resolve, reject).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
    });
  }

  async #establish(): Promise<Live> {
    const { initial, max } = this.#options.backoffMs ?? { initial: 1_000, max: 30_000 };
    // No library or no UDP port is not worth retrying: the dial fails at once.
    const o = this.#options;
    const ffi = usrsctpStack(o.localUdpPort ?? usrsctpPort() ?? freeUdpPort("0.0.0.0"));
    for (;;) {
      if (this.#closed) throw new ClosedError("SCTP dialer");
      if (this.#attempts > 0) {
        const wait = Math.min(max, initial * 2 ** Math.min(this.#attempts - 1, 16));
        this.#options.onEvent?.("retry", `in ${wait} ms`);
        await sleep(wait, this.#stop.signal);
        if (this.#closed) throw new ClosedError("SCTP dialer");
      }
      this.#attempts++;
      try {
        const live = await this.#attempt(ffi);
        this.#attempts = 0;
        this.#live = live;
        return live;
      } catch (e) {
        this.#options.onEvent?.("down", (e as Error).message);
      }
    }
  }

  async #attempt(ffi: UsrsctpSymbols): Promise<Live> {
    const o = this.#options;
    const socket = new UsrsctpSocket(ffi, SOCK_STREAM, {
      streams: o.streams ?? 1024,
      remoteUdpPort: o.port,
    });
    try {
      await socket.connect(o.hostname, o.sctpPort ?? o.port);
    } catch (e) {
      socket.close();
      throw e;
    }
    // COMM_UP is the first thing to read; it says how many streams the server accepts.
    let streams = o.streams ?? 1024;
    const first = await socket.recv().catch(() => null);
    if (first && first.flags & MSG_NOTIFICATION) {
      const ev = decodeNotification(first.data);
      if (ev?.kind === "up") streams = Math.min(streams, ev.outboundStreams);
    }
    const remoteAddr = new HostPortAddr("sctp", o.hostname, o.port);
    const association = new Association({
      localAddr: new HostPortAddr("sctp", "0.0.0.0", usrsctpPort() ?? 0),
      remoteAddr,
      streams,
      maxMessage: o.maxMessage,
      send: (sid, ppid, data) => socket.send(0, sid, ppid, data),
    });
    const live = { socket, association };
    this.#options.onEvent?.("up", `${streams} streams`);
    this.#receiveLoop(live);
    return live;
  }

  async #receiveLoop(live: Live): Promise<void> {
    let reason = "closed";
    for (;;) {
      const recv = live.socket.recv();
      this.#pending = recv;
      const m = await recv.catch(() => null); // a one-to-one socket fails once its peer is gone
      if (!m) break;
      if (m.flags & MSG_NOTIFICATION) {
        const ev = decodeNotification(m.data);
        if (ev?.kind === "down" || ev?.kind === "restart") {
          reason = ev.kind === "down" ? ev.reason : "restart"; // a restarted peer knows no streams
          break;
        }
        continue;
      }
      live.association.receive(m.sid, m.ppid, m.data, false);
      if (live.association.budget.over) await live.association.budget.drained();
    }
    if (this.#live === live) this.#live = null;
    live.association.fail(new ClosedError(`SCTP association (${reason})`));
    live.socket.close();
    this.#options.onEvent?.("down", reason);
  }

  /** Ends the association and fails every stream and waiting dial. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    const live = this.#live;
    this.#live = null;
    if (live) {
      live.association.fail(new ClosedError("SCTP dialer"));
      live.socket.close(this.#pending);
    }
  }
}
