/**
 * From a {@link ClientConfig} to a way of connecting proxies: the rendezvous method it
 * selects (through a browser's TLS when one is asked for), the broker channel (with the NAT type found by STUN behaviour tests, once per
 * process and ICE list), the ICE servers, and the WebRTC dial itself.
 *
 * @module
 */
import {
  chooseRendezvous,
  type ClientConfig,
  type IceServer,
  parseIceServers,
  pickIceServers,
} from "../lib/snowflake/client_config.ts";
import { chooseProfile, CHROME } from "../lib/snowflake/browser_tls.ts";
import { frontedChromeRequest } from "../lib/snowflake/fronted_chrome_http.ts";
import type { HttpTransport } from "../lib/snowflake/fronted_http.ts";
import { impersonatedRequest } from "../lib/snowflake/impersonated_http.ts";
import { discoverNat, probeStunServers } from "../lib/snowflake/nat.ts";
import type { NatType } from "../lib/snowflake/messages.ts";
import { BrokerChannel, type RendezvousMethod } from "../lib/snowflake/rendezvous.ts";
import { AmpCacheRendezvous } from "../lib/snowflake/rendezvous_amp.ts";
import { HttpRendezvous } from "../lib/snowflake/rendezvous_http.ts";
import { SqsRendezvous } from "../lib/snowflake/rendezvous_sqs.ts";
import type { WebRTC } from "../lib/snowflake/webrtc.ts";
import { dialPeer, type WebRTCPeer } from "./webrtc_peer.ts";

/** What a transport needs from the process. */
export interface TransportEnv {
  webrtc: WebRTC;
  log: (message: string) => void;
  /** Extra CA certificates (PEM) for rendezvous over HTTPS (tests). */
  ca?: string[];
}

/**
 * How HTTP and AMP rendezvous go out for the browser TLS profile a config asks for (undefined:
 * Deno's own TLS, lib/snowflake/fronted_http.ts). Logs the choice (README: TLS fingerprint).
 * Unfronted: impit, h2 with the browser's whole ClientHello. Fronted: impit would name the front
 * in h2's `:authority`, so Chrome's fronts through wreq-js over HTTP/1.1 with the ClientHello
 * Chrome sends for HTTP/1.1 alone (lib/snowflake/fronted_chrome_http.ts); Firefox's cannot be
 * had that way and keeps Deno's TLS, with a warning.
 */
export function rendezvousTransport(
  config: ClientConfig,
  fronted: boolean,
  log: (message: string) => void,
): HttpTransport | undefined {
  if (config.utlsImitate === "") return undefined;
  const { profile, note } = chooseProfile(config.utlsImitate);
  if (profile === null) {
    log(
      `WARNING: no browser TLS fingerprint for ${config.utlsImitate} (${note}): rendezvous ` +
        "uses Deno's own TLS (rustls) fingerprint (README: TLS fingerprint)",
    );
    return undefined;
  }
  if (fronted && profile !== CHROME) {
    log(
      `WARNING: no browser TLS fingerprint for ${config.utlsImitate} with domain fronting: ` +
        "only Chrome's can front (over HTTP/1.1, through wreq-js), so fronted rendezvous uses " +
        "Deno's own TLS (rustls) fingerprint (README: TLS fingerprint)",
    );
    return undefined;
  }
  const via = fronted
    ? "wreq-js chrome, HTTP/1.1 for domain fronting (ALPN http/1.1, no ALPS)"
    : `impit ${profile}`;
  log(`rendezvous TLS fingerprint: ${via}${note ? ` (${note})` : ""}`);
  if (config.utlsNoSni) {
    log(`WARNING: utls-nosni is ignored: ${fronted ? "wreq-js" : "impit"} always sends the SNI`);
  }
  return fronted ? frontedChromeRequest : impersonatedRequest(profile);
}

/** The rendezvous method a config selects (SyntaxError when the config is contradictory). */
export function makeRendezvous(config: ClientConfig, env: TransportEnv): RendezvousMethod {
  const choice = chooseRendezvous(config);
  const onFront = (front: string | undefined) => {
    if (front) env.log(`rendezvous through front ${front}`);
  };
  if (choice.kind === "sqs") {
    if (config.utlsImitate !== "") {
      env.log("WARNING: SQS rendezvous goes through the AWS SDK's own TLS, not a browser's");
    }
    return new SqsRendezvous(choice.sqsQueueUrl, choice.sqsCreds, { log: env.log });
  }
  const request = rendezvousTransport(config, choice.fronts.length > 0, env.log);
  const options = { fronts: choice.fronts, ca: request ? undefined : env.ca, request, onFront };
  return choice.kind === "amp"
    ? new AmpCacheRendezvous(choice.brokerUrl, choice.ampCacheUrl, options)
    : new HttpRendezvous(choice.brokerUrl, options);
}

/** NAT detection results by ICE list, shared by every session of the process. */
const natResults = new Map<string, Promise<NatType>>();

/**
 * Our NAT type from the first of `servers` that supports RFC 5780 (Go's updateNATType);
 * "unknown" when none does. Runs once per distinct list.
 */
export function natTypeFor(servers: string[], log: (m: string) => void): Promise<NatType> {
  const key = servers.join(",");
  let result = natResults.get(key);
  if (!result) {
    result = (async () => {
      for (const s of servers) {
        const found = await discoverNat(s);
        if (found.type !== "unknown") {
          log(`NAT type: ${found.type} (mapping ${found.mapping}, filtering ${found.filtering})`);
          return found.type;
        }
        log(`NAT check with ${s} failed: ${found.reason}`);
      }
      log("NAT type: unknown");
      return "unknown" as NatType;
    })();
    natResults.set(key, result);
  }
  return result;
}

/** The ICE servers that answered our STUN probe, and our addresses they saw untranslated. */
export interface IceProbe {
  servers: IceServer[];
  reflexive: string[];
}

/**
 * The servers of `servers` that answer a STUN Binding (lib/snowflake/nat.ts probeStunServers:
 * once per process and list), with the addresses they saw with our port unchanged (no NAT in the
 * way). libwebrtc holds an offer until every STUN server answered or timed out (~10 s), and
 * censors block STUN servers: one that does not answer here is left out of the offer's gathering
 * (it could not have contributed a candidate anyway). The addresses let gathering end without
 * waiting for a server-reflexive candidate that libwebrtc never signals when there is no NAT
 * (lib/snowflake/gather.ts).
 */
export async function probeIceServers(
  servers: IceServer[],
  log: (m: string) => void,
): Promise<IceProbe> {
  const { seen, untranslated } = await probeStunServers(servers.map((s) => s.urls));
  const dead = servers.filter((_, i) => seen[i] === null);
  if (dead.length) log(`ICE servers not answering, left out: ${dead.map((s) => s.urls).join(" ")}`);
  return { servers: servers.filter((_, i) => seen[i] !== null), reflexive: untranslated };
}

/** The proxy dialer of one session. */
export function peerDialer(
  config: ClientConfig,
  env: TransportEnv,
): (signal: AbortSignal) => Promise<WebRTCPeer> {
  const broker = new BrokerChannel(makeRendezvous(config, env), config.fingerprint);
  const { servers, skipped } = parseIceServers(config.ice);
  for (const s of skipped) env.log(`ICE server skipped: ${s}`);
  const iceServers = pickIceServers(servers);
  env.log(`using ICE servers: ${iceServers.map((s) => s.urls).join(" ") || "none"}`);
  natTypeFor(iceServers.map((s) => s.urls), env.log).then((t) => (broker.natType = t));
  return async (signal) => {
    const probe = await probeIceServers(iceServers, env.log);
    return await dialPeer({
      webrtc: env.webrtc,
      broker,
      iceServers: probe.servers,
      reflexive: probe.reflexive,
      keepLocalAddresses: config.keepLocalAddresses,
      log: env.log,
      signal,
    });
  };
}
