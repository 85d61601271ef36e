/**
 * What the proxy scenarios (tests/proxy/scenario.ts) put around our proxy, all real network
 * peers inside one namespace:
 *
 * - {@link RendezvousBroker}: the broker's `/client`, `/proxy` and `/answer` with real HTTP and
 *   real Go-format messages (lib/snowflake/messages.ts). It stands in for the broker role in the
 *   proxy's own tests so that they can script what a broker sends (e.g. hostile relay URLs);
 *   the interop test uses our real broker.
 * - {@link RelaySink}: a WebSocket relay that echoes and records each connection's `client_ip`.
 * - {@link dialThroughBroker}: a WebRTC client (@roamhq/wrtc) that rendezvouses and returns its
 *   data channel as a Conn.
 * - {@link startProxy}: our `broker-proxy proxy` as a child process with its release flags.
 *
 * @module
 */
import {
  decodeAnswerRequest,
  decodeClientPollResponse,
  decodeProxyPollRequest,
  deserializeSessionDescription,
  encodeAnswerResponse,
  encodeClientPollRequest,
  encodeClientPollResponse,
  encodeProxyPollResponse,
  ERR_NO_PROXIES,
  ERR_TIMED_OUT,
  type NatType,
  serializeSessionDescription,
  STATUS_CLIENT_MATCH,
  STATUS_NO_MATCH,
} from "../../lib/snowflake/messages.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { closePeer, type DataChannel, gatherLocalDescription } from "../../lib/snowflake/webrtc.ts";
import { type DataChannelConn, dataChannelConn } from "../../lib/snowflake/datachannel.ts";
import { BINARIES } from "../../tools/permissions.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `p`, or `fallback` after `ms`; the timer never outlives the race. */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface PendingClient {
  offer: string;
  nat: NatType;
  answer: (sdp: string | null) => void;
}

/** Options for {@link RendezvousBroker}. */
export interface RendezvousOptions {
  hostname: string;
  /** The relay URL sent with each match (a function to vary it per match). */
  relayURL: string | (() => string);
  /** How long a proxy poll is held without a client, ms. Default 1000. */
  proxyHoldMs?: number;
  /** How long a client waits for a proxy, then for its answer, ms. Default 3000 and 10000. */
  clientWaitMs?: number;
  answerWaitMs?: number;
  /** Delay the proxy's `/answer` reply (the client already has the answer), ms. Default 0. */
  answerReplyDelayMs?: number;
  /** A fixed offer handed to every proxy poll (no client needed), e.g. for the safety test. */
  cannedOffer?: string;
}

/** A scripted broker (see the module doc). */
export class RendezvousBroker {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #clients: PendingClient[] = [];
  readonly #waitingProxies: ((c: PendingClient | null) => void)[] = [];
  readonly #answers = new Map<string, PendingClient>();
  readonly polls: { nat: string; clients: number; pattern?: string }[] = [];
  answersReceived = 0;
  /** The SDP of every answer proxies sent. */
  readonly answerSDPs: string[] = [];
  readonly url: string;

  constructor(readonly options: RendezvousOptions) {
    this.#server = Deno.serve(
      { hostname: options.hostname, port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.url = `http://${options.hostname}:${this.#server.addr.port}/`;
  }

  #relayURL(): string {
    const r = this.options.relayURL;
    return typeof r === "string" ? r : r();
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const body = await req.text();
    if (path === "/proxy") return new Response(await this.#proxyPoll(body));
    if (path === "/answer") {
      this.answersReceived++;
      const a = decodeAnswerRequest(body);
      this.answerSDPs.push(deserializeSessionDescription(a.answer).sdp);
      const client = this.#answers.get(a.sid);
      this.#answers.delete(a.sid);
      client?.answer(a.answer);
      if (this.options.answerReplyDelayMs) await sleep(this.options.answerReplyDelayMs);
      return new Response(encodeAnswerResponse(client !== undefined || !!this.options.cannedOffer));
    }
    if (path === "/client") return new Response(await this.#clientPoll(body));
    return new Response("not found\n", { status: 404 });
  }

  async #proxyPoll(body: string): Promise<string> {
    const poll = decodeProxyPollRequest(body);
    this.polls.push({ nat: poll.nat, clients: poll.clients, pattern: poll.acceptedRelayPattern });
    if (this.options.cannedOffer) {
      return encodeProxyPollResponse({
        status: STATUS_CLIENT_MATCH,
        offer: this.options.cannedOffer,
        nat: "unknown",
        relayURL: this.#relayURL(),
      });
    }
    let client = this.#clients.shift() ?? null;
    if (!client) {
      client = await new Promise<PendingClient | null>((resolve) => {
        this.#waitingProxies.push(resolve);
        setTimeout(() => {
          const i = this.#waitingProxies.indexOf(resolve);
          if (i >= 0) this.#waitingProxies.splice(i, 1);
          resolve(null);
        }, this.options.proxyHoldMs ?? 1000);
      });
    }
    if (!client) return encodeProxyPollResponse({ status: STATUS_NO_MATCH });
    this.#answers.set(poll.sid, client);
    return encodeProxyPollResponse({
      status: STATUS_CLIENT_MATCH,
      offer: client.offer,
      nat: client.nat,
      relayURL: this.#relayURL(),
    });
  }

  async #clientPoll(body: string): Promise<string> {
    const nl = body.indexOf("\n");
    const req = JSON.parse(body.slice(nl + 1)) as { offer: string; nat: NatType };
    let answered: (sdp: string | null) => void = () => {};
    const answer = new Promise<string | null>((r) => (answered = r));
    const client: PendingClient = { offer: req.offer, nat: req.nat, answer: answered };
    const proxy = this.#waitingProxies.shift();
    if (proxy) proxy(client);
    else this.#clients.push(client);
    const matched = await within(answer, this.options.clientWaitMs ?? 3000, "wait" as const);
    if (matched === "wait" && this.#clients.includes(client)) {
      this.#clients.splice(this.#clients.indexOf(client), 1);
      return encodeClientPollResponse({ error: ERR_NO_PROXIES });
    }
    const sdp = matched === "wait"
      ? await within(answer, this.options.answerWaitMs ?? 10_000, null)
      : matched;
    return encodeClientPollResponse(sdp ? { answer: sdp } : { error: ERR_TIMED_OUT });
  }

  async close(): Promise<void> {
    for (const p of this.#waitingProxies.splice(0)) p(null);
    await this.#server.shutdown();
  }
}

/** A WebSocket relay that echoes every message and records each connection's query. */
export class RelaySink {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly clientIPs: (string | null)[] = [];
  readonly url: string;
  readonly host: string;
  open = 0;

  constructor(hostname: string) {
    this.#server = Deno.serve({ hostname, port: 0, onListen: () => {} }, (req) => {
      if (req.headers.get("upgrade") !== "websocket") return new Response("relay\n");
      this.clientIPs.push(new URL(req.url).searchParams.get("client_ip"));
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => this.open++;
      socket.onclose = () => this.open--;
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    });
    this.host = `${hostname}:${this.#server.addr.port}`;
    this.url = `ws://${this.host}/`;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

/** A WebRTC client's connection through a proxy, with its peer connection. */
export interface ClientConn {
  conn: DataChannelConn;
  close(): void;
}

/**
 * Rendezvouses like a Snowflake client (1.0 poll, non-trickle offer) and resolves once the
 * data channel is open. Rejects with the broker's error text; closes its peer on every path.
 */
export async function dialThroughBroker(
  brokerURL: string,
  openTimeoutMs = 20_000,
  /** Sent from inside the channel's open event, as the Go client sends its token. */
  firstMessage?: Uint8Array<ArrayBuffer>,
): Promise<ClientConn> {
  const pc = wrtcWebRTC.newPeerConnection({});
  try {
    const label = "snowflake-" + crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const channel: DataChannel = pc.createDataChannel(label, { ordered: true });
    const conn = dataChannelConn(channel, { onClose: () => closePeer(pc) });
    const opened = new Promise<void>((resolve) =>
      channel.addEventListener("open", () => {
        if (firstMessage) channel.send(firstMessage);
        resolve();
      })
    );
    const offer = await gatherLocalDescription(pc, await pc.createOffer());
    const res = await fetch(new URL("client", brokerURL), {
      method: "POST",
      body: encodeClientPollRequest({
        offer: serializeSessionDescription(offer),
        nat: "unrestricted",
      }),
    });
    const reply = decodeClientPollResponse(await res.text());
    if (reply.error) throw new Error(reply.error);
    await pc.setRemoteDescription(deserializeSessionDescription(reply.answer!));
    if (await within(opened.then(() => true), openTimeoutMs, false) === false) {
      throw new Error("data channel did not open");
    }
    return { conn, close: () => conn.close() };
  } catch (e) {
    closePeer(pc);
    throw e;
  }
}

/** Our proxy as a child process (inherits the namespace), its log collected. */
export class ProxyProcess {
  readonly child: Deno.ChildProcess;
  log = "";
  readonly done: Promise<void>;

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...BINARIES["broker-proxy"]!.flags, "proxy/main.ts", "proxy", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const dec = new TextDecoder();
    const collect = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) this.log += dec.decode(chunk);
    };
    this.done = Promise.all([collect(this.child.stdout), collect(this.child.stderr)]).then(
      () => {},
    );
  }

  /** Resolves once `re` appears in the log; rejects after `ms`. */
  async waitLog(re: RegExp, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this.log)) {
      if (Date.now() > deadline) throw new Error(`proxy log never matched ${re}:\n${this.log}`);
      await sleep(100);
    }
  }

  /** SIGTERM; resolves with the exit code (SIGKILL after `graceMs`, code -1). */
  async stop(graceMs = 10_000): Promise<number> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* exited */ }
    let killed = false;
    const t = setTimeout(() => {
      killed = true;
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, graceMs);
    const status = await this.child.status;
    clearTimeout(t);
    await this.done;
    return killed ? -1 : status.code;
  }
}
