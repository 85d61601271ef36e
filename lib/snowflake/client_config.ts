/**
 * The Snowflake client's settings, as the Go client has them (docs/PROTOCOL.md §8): from flags,
 * then overridden per SOCKS connection by the bridge-line arguments tor passes as SOCKS
 * credentials (url, front, fronts, ampcache, sqsqueue, sqscreds, ice, max, fingerprint,
 * utls-imitate, utls-nosni). Also the rendezvous method they select and the ICE servers.
 *
 * @example
 * ```ts
 * import { applyBridgeArgs, defaultClientConfig } from "./client_config.ts";
 * const c = applyBridgeArgs(defaultClientConfig(), new Map([["url", ["https://b.example/"]]]));
 * console.log(c.brokerUrl); // https://b.example/
 * ```
 *
 * @module
 */

/** PT arguments: key → values in order (what lib/pt's SOCKS server hands over). */
export type BridgeArgs = Map<string, string[]>;

/** Everything one Snowflake session needs to know. */
export interface ClientConfig {
  /** Broker URL (`--url`, `url=`). */
  brokerUrl: string;
  /** AMP cache URL (`--ampcache`, `ampcache=`); with a broker URL selects AMP rendezvous. */
  ampCacheUrl: string;
  /** SQS queue URL (`--sqsqueue`, `sqsqueue=`); selects SQS rendezvous. */
  sqsQueueUrl: string;
  /** base64 of `{"aws-access-key-id":…,"aws-secret-key":…}` (`--sqscreds`, `sqscreds=`). */
  sqsCreds: string;
  /** Front domains; one is picked at random per request (`--fronts`, `--front`). */
  fronts: string[];
  /** ICE server URLs as given (`--ice`, `ice=`); only `stun:` ones are used. */
  ice: string[];
  /** How many proxies to keep connected (`--max`, `max=`), at least 1. */
  max: number;
  /** Keep LAN and loopback ICE candidates in the offer (`--keep-local-addresses`). */
  keepLocalAddresses: boolean;
  /** The bridge's fingerprint sent to the broker (`fingerprint=`); "" = broker default. */
  fingerprint: string;
  /** Browser TLS profile asked for (`utls-imitate=`, `--impersonate-profile`); "" = none. */
  utlsImitate: string;
  /** Remove SNI when imitating (`utls-nosni=`). */
  utlsNoSni: boolean;
}

/** The settings with nothing configured. */
export function defaultClientConfig(): ClientConfig {
  return {
    brokerUrl: "",
    ampCacheUrl: "",
    sqsQueueUrl: "",
    sqsCreds: "",
    fronts: [],
    ice: [],
    max: 1,
    keepLocalAddresses: false,
    fingerprint: "",
    utlsImitate: "",
    utlsNoSni: false,
  };
}

/** Bridge arguments the client understands; any other key is an error (likely a typo). */
export const BRIDGE_ARG_KEYS = [
  "url",
  "front",
  "fronts",
  "ampcache",
  "sqsqueue",
  "sqscreds",
  "ice",
  "max",
  "fingerprint",
  "utls-imitate",
  "utls-nosni",
] as const;

/** Splits a comma list as Go does (trim the whole, then split); "" → []. */
export function splitList(s: string): string[] {
  const t = s.trim();
  return t === "" ? [] : t.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

/** Parses `--max`/`max=`: a positive decimal integer. */
export function parseMax(s: string): number {
  if (!/^\s*\d{1,6}\s*$/.test(s) || Number(s) < 1) {
    throw new SyntaxError(`max=${JSON.stringify(s)} is not a positive integer`);
  }
  return Number(s);
}

/**
 * The config for one SOCKS connection: `base` (from flags) overridden by the bridge-line
 * arguments, like the Go client's socksAcceptLoop (`fronts` wins over `front`; a
 * repeated key takes its last value). Throws SyntaxError naming a bad argument.
 */
export function applyBridgeArgs(base: ClientConfig, args: BridgeArgs): ClientConfig {
  const c: ClientConfig = { ...base, fronts: [...base.fronts], ice: [...base.ice] };
  const get = (k: string) => args.get(k)?.at(-1);
  for (const key of args.keys()) {
    if (!(BRIDGE_ARG_KEYS as readonly string[]).includes(key)) {
      throw new SyntaxError(`unknown bridge argument ${JSON.stringify(key)}`);
    }
  }
  const url = get("url");
  if (url !== undefined) c.brokerUrl = url;
  const amp = get("ampcache");
  if (amp !== undefined) c.ampCacheUrl = amp;
  const sqs = get("sqsqueue");
  if (sqs !== undefined) c.sqsQueueUrl = sqs;
  const creds = get("sqscreds");
  if (creds !== undefined) c.sqsCreds = creds;
  const fronts = get("fronts");
  const front = get("front");
  if (fronts !== undefined) {
    if (fronts !== "") c.fronts = splitList(fronts);
  } else if (front !== undefined) c.fronts = splitList(front);
  const ice = get("ice");
  if (ice !== undefined) c.ice = splitList(ice);
  const max = get("max");
  if (max !== undefined) c.max = parseMax(max);
  const fp = get("fingerprint");
  if (fp !== undefined) {
    if (fp !== "" && !/^[0-9A-Fa-f]{40}$/.test(fp)) {
      throw new SyntaxError(`fingerprint=${JSON.stringify(fp)} is not 40 hex digits`);
    }
    c.fingerprint = fp.toUpperCase();
  }
  const imitate = get("utls-imitate");
  if (imitate !== undefined) c.utlsImitate = imitate;
  const nosni = get("utls-nosni");
  if (nosni !== undefined) c.utlsNoSni = ["true", "yes"].includes(nosni.toLowerCase());
  return c;
}

/** The rendezvous method a config selects, with what it needs. */
export type RendezvousChoice =
  | { kind: "http"; brokerUrl: string; fronts: string[] }
  | { kind: "amp"; brokerUrl: string; ampCacheUrl: string; fronts: string[] }
  | { kind: "sqs"; sqsQueueUrl: string; sqsCreds: string };

/**
 * Picks the rendezvous method as Go does: SQS when a queue is set (and then neither a
 * broker nor an AMP cache may be), AMP when a cache and a broker are set, else HTTP.
 * Throws SyntaxError when the settings are contradictory or missing, or a URL is bad.
 */
export function chooseRendezvous(c: ClientConfig): RendezvousChoice {
  const checkUrl = (what: string, u: string) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new SyntaxError(`${what} ${JSON.stringify(u)} is not a URL`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new SyntaxError(`${what} ${JSON.stringify(u)} is not http(s)`);
    }
  };
  if (c.sqsQueueUrl !== "") {
    if (c.brokerUrl !== "" || c.ampCacheUrl !== "") {
      throw new SyntaxError(
        "several rendezvous methods given: use one of sqsqueue, ampcache (with url), url",
      );
    }
    if (c.sqsCreds === "") throw new SyntaxError("sqsqueue needs sqscreds");
    checkUrl("sqsqueue", c.sqsQueueUrl);
    return { kind: "sqs", sqsQueueUrl: c.sqsQueueUrl, sqsCreds: c.sqsCreds };
  }
  if (c.brokerUrl === "") {
    throw new SyntaxError("no rendezvous method: give url (optionally with ampcache) or sqsqueue");
  }
  checkUrl("url", c.brokerUrl);
  if (c.ampCacheUrl !== "") {
    checkUrl("ampcache", c.ampCacheUrl);
    return { kind: "amp", brokerUrl: c.brokerUrl, ampCacheUrl: c.ampCacheUrl, fronts: c.fronts };
  }
  return { kind: "http", brokerUrl: c.brokerUrl, fronts: c.fronts };
}

/** One ICE server for RTCPeerConnection. */
export interface IceServer {
  urls: string;
}

/**
 * The usable ICE servers of a list: `stun:` URLs only (Go: "only stun: (STUN over UDP)"),
 * with the default port 3478 added. `skipped` says why the others were dropped.
 */
export function parseIceServers(
  urls: readonly string[],
): { servers: IceServer[]; skipped: string[] } {
  const servers: IceServer[] = [];
  const skipped: string[] = [];
  for (const raw of urls) {
    const u = raw.trim();
    const m = /^([a-z]+):(?:\[([0-9a-fA-F:.]+)\]|([^:/?#\[\]]+))(?::(\d{1,5}))?$/.exec(u);
    if (!m) {
      skipped.push(`${u}: not an ICE server URL`);
      continue;
    }
    if (m[1] !== "stun") {
      skipped.push(`${u}: only stun: servers are supported`);
      continue;
    }
    const port = m[4] === undefined ? 3478 : Number(m[4]);
    if (port < 1 || port > 65535) {
      skipped.push(`${u}: bad port`);
      continue;
    }
    const host = m[2] !== undefined ? `[${m[2]}]` : m[3]!;
    servers.push({ urls: `stun:${host}:${port}` });
  }
  return { servers, skipped };
}

/**
 * The subset of ICE servers one session uses, as Go picks it: shuffled, and when there
 * are more than two, the first half (rounded up), so that one session does not reveal
 * the whole list.
 */
export function pickIceServers<T>(servers: readonly T[], random: () => number = Math.random): T[] {
  const s = [...servers];
  for (let i = s.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  return s.length > 2 ? s.slice(0, Math.ceil(s.length / 2)) : s;
}

/** A `Bridge` line, split into its parts. */
export interface BridgeLine {
  transport: string;
  address: string;
  fingerprint: string;
  args: BridgeArgs;
}

/**
 * Parses a torrc `Bridge` line value (`snowflake 192.0.2.3:80 <FP> k=v k=v`), the way tor
 * splits it before handing the `k=v` pairs to the transport. Throws SyntaxError.
 */
export function parseBridgeLine(line: string): BridgeLine {
  const words = line.trim().replace(/^Bridge\s+/, "").split(/\s+/);
  const [transport, address, ...rest] = words;
  if (!transport || !address || !/:\d+$/.test(address)) {
    throw new SyntaxError(`bridge line ${JSON.stringify(line)} has no transport and address`);
  }
  let fingerprint = "";
  if (rest[0] && /^[0-9A-Fa-f]{40}$/.test(rest[0])) fingerprint = rest.shift()!;
  const args: BridgeArgs = new Map();
  for (const w of rest) {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new SyntaxError(`bridge argument ${JSON.stringify(w)} is not k=v`);
    const k = w.slice(0, eq);
    const list = args.get(k) ?? [];
    list.push(w.slice(eq + 1));
    args.set(k, list);
  }
  return { transport, address, fingerprint, args };
}
