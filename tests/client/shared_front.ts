/**
 * The standalone client's front end (client/front.ts) in a process of its own, for tests that
 * need to reach its shared sessions: SIGHUP closes every live session, as their smux closing on
 * its own would (keepalive timeout, KCP dead link), and SIGTERM stops it: the process then
 * ends by itself once every session and peer connection is closed. Logs to stdout.
 *
 * Usage: deno run --allow-all shared_front.ts SOCKS_PORT BROKER_URL STUN_URL
 *
 * @module
 */
import { defaultClientConfig } from "../../lib/snowflake/client_config.ts";
import { wrtcWebRTC } from "../../lib/snowflake/webrtc_wrtc.ts";
import { type FrontOptions, serveSocks, sharedSessions } from "../../client/front.ts";

const [port, brokerUrl, stunUrl] = Deno.args;
if (!port || !brokerUrl || !stunUrl) {
  throw new TypeError("usage: shared_front.ts SOCKS_PORT BROKER_URL STUN_URL");
}
const stop = new AbortController();
const options: FrontOptions = {
  mode: "standalone",
  config: { ...defaultClientConfig(), brokerUrl, ice: [stunUrl] },
  env: { webrtc: wrtcWebRTC, log: (m) => console.log(m) },
  signal: stop.signal,
};
const sessions = sharedSessions(options);
const closeSessions = () => {
  for (const s of sessions.sessions()) {
    console.log(`closing ${s.name} (SIGHUP)`);
    s.close();
  }
};
const shutdown = () => stop.abort();
Deno.addSignalListener("SIGHUP", closeSessions);
Deno.addSignalListener("SIGTERM", shutdown);
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(port), transport: "tcp" });
console.log(`SOCKS listener at 127.0.0.1:${port}`);
await serveSocks(listener, { ...options, sessions });
// No Deno.exit: the process ends only once every session and peer connection is closed.
Deno.removeSignalListener("SIGHUP", closeSessions);
Deno.removeSignalListener("SIGTERM", shutdown);
console.log("stopped");
