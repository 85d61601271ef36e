/**
 * `broker-proxy broker`: flags → listeners (TLS from ACME, a certificate file, or none),
 * the rendezvous core, optional SQS channel and metrics log; SIGHUP reloads the bridge list,
 * SIGTERM/SIGINT stop.
 *
 * @module
 */
import type { AcmeCertManager } from "../../lib/acme/mod.ts";
import { fileSink, Logger, writeStderr } from "../../lib/log/mod.ts";
import { Broker } from "./broker.ts";
import { BridgeList, DEFAULT_BRIDGE_LIST } from "./bridge_list.ts";
import { BROKER_USAGE, type BrokerFlags, parseBrokerFlags } from "./flags.ts";
import { BODY_LIMIT, brokerHandler } from "./http.ts";
import { type Http1Handler, serveHttp1 } from "./http1.ts";
import { PollPacer } from "./pacer.ts";
import { probeHandler } from "./probe.ts";

export const BROKER_VERSION = "2.11.0-deno";

interface Listener {
  addr: Deno.NetAddr;
  reload?(cert: string, key: string): void;
  shutdown(): Promise<void>;
}

type Handler = Http1Handler;

/**
 * Serves `handler` on `addr` with our HTTP/1.1 server (http1.ts), over TLS when `tls` is given.
 * A TLS listener takes a new certificate by binding a second listener on the same port
 * (SO_REUSEPORT) and closing the first; connections already open keep the old one.
 */
function listen(
  addr: { hostname: string; port: number },
  handler: Handler,
  tls: { cert: string; key: string } | null,
  log: Logger,
): Listener {
  const opts = {
    maxBodyBytes: BODY_LIMIT,
    onError: (e: unknown) => log.log(`http: ${(e as Error).message}`),
  };
  if (!tls) return serveHttp1(Deno.listen(addr), handler, opts);
  const open = (port: number, c: { cert: string; key: string }) =>
    serveHttp1(Deno.listenTls({ ...addr, port, ...c, reusePort: true }), handler, opts);
  let server = open(addr.port, tls);
  const port = server.addr.port;
  return {
    get addr() {
      return server.addr;
    },
    reload(cert, key) {
      const old = server;
      server = open(port, { cert, key });
      old.shutdown().catch(() => {});
    },
    shutdown: () => server.shutdown(),
  };
}

async function loadBridges(path: string | undefined): Promise<BridgeList> {
  return BridgeList.parse(path ? await Deno.readTextFile(path) : DEFAULT_BRIDGE_LIST);
}

/** Runs the broker until SIGTERM/SIGINT; returns the exit code. */
export async function runBroker(argv: string[]): Promise<number> {
  let flags: BrokerFlags;
  try {
    flags = parseBrokerFlags(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n${BROKER_USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.error(BROKER_USAGE);
    return 0;
  }
  if (flags.version) {
    console.error(`snowflake-broker ${BROKER_VERSION}`);
    return 0;
  }
  let write = writeStderr;
  if (flags.log) write = fileSink(flags.log);
  const log = new Logger({ unsafe: flags.unsafeLogging, write });
  log.log(`snowflake-broker ${BROKER_VERSION}`);
  if (!flags.disableTls && flags.acmeHostnames.length === 0 && !flags.cert) {
    log.log("the --acme-hostnames, --cert and --key, or --disable-tls option is required");
    return 1;
  }

  let bridges: BridgeList;
  try {
    bridges = await loadBridges(flags.bridgeListPath);
  } catch (e) {
    log.log(`cannot load the bridge list: ${(e as Error).message}`);
    return 1;
  }
  const broker = new Broker({
    bridges,
    allowedRelayPattern: flags.allowedRelayPattern,
    defaultRelayPattern: flags.defaultRelayPattern,
    clientTimeoutMs: flags.clientTimeoutMs,
    proxyTimeoutMs: flags.proxyTimeoutMs,
    pacer: new PollPacer({ baseMs: flags.pollIntervalMs, maxMs: flags.pollIntervalMaxMs }),
    log,
  });
  const probe = flags.disableProbe ? undefined : probeHandler({
    webrtc: async () => (await import("../../lib/snowflake/webrtc_wrtc.ts")).wrtcWebRTC,
    iceServers: flags.probeStun,
    log,
  });
  const handler: Handler = brokerHandler({ broker, probe });
  const probeOnly: Handler = (req, remoteIp) =>
    req.target.split("?")[0] === "/probe"
      ? handler(req, remoteIp)
      : Promise.resolve(new Response("404 page not found\n", { status: 404 }));

  const closers: (() => Promise<void> | void)[] = [() => broker.close()];
  let tls: { cert: string; key: string } | null = null;
  let acme: AcmeCertManager | null = null;
  try {
    if (flags.cert && flags.key) {
      tls = { cert: await Deno.readTextFile(flags.cert), key: await Deno.readTextFile(flags.key) };
    } else if (!flags.disableTls) {
      await Deno.mkdir(flags.acmeCertCache, { recursive: true, mode: 0o700 });
      // Loaded only when used: it (and the SQS SDK below) would cost RSS on every broker.
      const { AcmeCertManager } = await import("../../lib/acme/manager.ts");
      acme = new AcmeCertManager({
        directoryUrl: flags.acmeDirectoryUrl,
        hostnames: flags.acmeHostnames,
        email: flags.acmeEmail,
        cacheDir: flags.acmeCertCache,
        httpPort: flags.acmeHttpPort,
        httpHostname: flags.addr.hostname,
        caCertFile: flags.acmeCaCert,
        log,
      });
      await acme.start();
      const a = acme;
      closers.push(() => a.close());
      const c = acme.current();
      tls = { cert: c.certPem, key: c.keyPem };
    }
  } catch (e) {
    log.log(`TLS: ${(e as Error).message}`);
    return 1;
  }

  const listeners: Listener[] = [];
  try {
    listeners.push(listen(flags.addr, handler, tls, log));
    if (flags.probeAddr && probe) listeners.push(listen(flags.probeAddr, probeOnly, tls, log));
  } catch (e) {
    log.log(`cannot listen: ${(e as Error).message}`);
    await Promise.allSettled(listeners.map((l) => l.shutdown()));
    return 1;
  }
  for (const l of listeners) {
    log.log(`listening on ${tls ? "https" : "http"}://${l.addr.hostname}:${l.addr.port}/`);
  }
  acme?.onRenew((c) => {
    log.log("ACME certificate renewed; reloading TLS listeners");
    for (const l of listeners) l.reload?.(c.certPem, c.keyPem);
  });
  closers.push(...listeners.map((l) => () => l.shutdown()));

  if (flags.sqsName) {
    if (!flags.sqsRegion) {
      log.log("--broker-sqs-name needs --broker-sqs-region");
      return 1;
    }
    const { SqsRendezvous } = await import("./sqs.ts");
    const sqs = new SqsRendezvous({
      broker,
      queueName: flags.sqsName,
      region: flags.sqsRegion,
      endpoint: flags.sqsEndpoint,
      log,
    });
    try {
      await sqs.start();
    } catch (e) {
      log.log(`SQS: ${(e as Error).message}`);
      return 1;
    }
    closers.unshift(() => sqs.close());
  }

  if (flags.metricsLog) {
    const sink = fileSink(flags.metricsLog);
    const timer = setInterval(() => {
      sink(broker.metrics.logBlock().trimEnd());
      broker.metrics.rotate();
    }, flags.metricsIntervalMs);
    closers.push(() => clearInterval(timer));
  }

  Deno.addSignalListener("SIGHUP", async () => {
    try {
      broker.setBridges(await loadBridges(flags.bridgeListPath));
      log.log("SIGHUP: bridge list reloaded");
    } catch (e) {
      log.log(`SIGHUP: keeping the old bridge list: ${(e as Error).message}`);
    }
  });
  const why = await new Promise<string>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(sig, () => resolve(`caught signal ${sig}`));
    }
  });
  log.log(`${why}, exiting`);
  for (const close of closers) await Promise.resolve(close()).catch(() => {});
  return 0;
}
