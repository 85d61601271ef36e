/**
 * `broker-proxy proxy`: the standalone Snowflake proxy. Wires the core (proxy/relay/core.ts)
 * to @roamhq/wrtc in a host process (proxy/webrtc_process.ts), Deno's WebSocket and fetch, the
 * scrubbing logger, Prometheus metrics and signals. README "Proxy" documents the flags.
 *
 * @module
 */
import { flagLogger } from "../../lib/log/mod.ts";
import { keepResidentMemoryLow } from "../../lib/process/resident_memory.ts";
import { IsolatedWebRTC } from "../../lib/snowflake/webrtc_isolated.ts";
import { proxyWebRTC } from "../webrtc_process.ts";
import { SnowflakeProxy } from "./core.ts";
import { binaryProxyEnv } from "./env.ts";
import { parseProxyFlags, PROXY_USAGE, type ProxyFlags } from "./flags.ts";

export const PROXY_VERSION = "2.11.0-deno";

/** Runs the proxy until SIGINT/SIGTERM; resolves with the exit code. */
export async function runProxy(args: string[]): Promise<number> {
  let flags: ProxyFlags;
  try {
    flags = parseProxyFlags(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n${PROXY_USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.error(PROXY_USAGE);
    return 0;
  }
  if (flags.version) {
    console.error(`snowflake-proxy ${PROXY_VERSION}`);
    return 0;
  }
  const logger = flagLogger(flags.log, flags.unsafeLogging);
  if (!logger) return 1;
  const webrtc = await proxyWebRTC((m) => logger.log(m));
  const proxy = new SnowflakeProxy(
    flags.config,
    binaryProxyEnv({
      log: (m) => logger.log(m),
      debug: flags.verbose ? (m) => logger.log(m) : undefined,
    }, webrtc),
  );

  let metrics: Deno.HttpServer | undefined;
  if (flags.metrics) {
    try {
      metrics = Deno.serve(
        {
          hostname: flags.metrics.hostname,
          port: flags.metrics.port,
          onListen: () =>
            logger.log(
              `metrics at http://${flags.metrics!.hostname}:${flags.metrics!.port}/metrics`,
            ),
        },
        (req) =>
          new URL(req.url).pathname === "/metrics"
            ? new Response(proxy.stats.prometheus(proxy.natType), {
              headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
            })
            : new Response("not found\n", { status: 404 }),
      );
    } catch (e) {
      logger.log(`could not enable metrics: ${(e as Error).message}`);
      return 1;
    }
  }

  const stop = () => proxy.stop();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  logger.log(`snowflake-proxy ${PROXY_VERSION}`);
  keepResidentMemoryLow((m) => logger.log(m));
  try {
    await proxy.run();
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    await metrics?.shutdown();
    if (webrtc instanceof IsolatedWebRTC) await webrtc.stop();
  }
  logger.log("stopped");
  return 0;
}
