/**
 * Broker messages (docs/BROKER.md, "Messages"): what clients, proxies and the broker send
 * each other over HTTP, AMP or SQS. Pure codecs: strings in, values out. Field names, field
 * order and zero values follow the Go implementation so our bytes equal Go's.
 *
 * Decoders throw SyntaxError (not JSON, bad version line), TypeError (wrong field types) or
 * {@link MessageError} (well-formed but refused, e.g. no offer). Every thrown message is the
 * one the Go broker would put in its `{"error": ...}` reply.
 *
 * @module
 */
import { goJson, intField, optionalStringField, parseObject, stringField } from "./json.ts";

/** The version line of client poll requests. */
export const CLIENT_VERSION = "1.0";
/** The version proxies and the broker put in proxy messages. */
export const PROXY_VERSION = "1.3";
/** The bridge a client means when its poll names none (Tor Project's snowflake bridge). */
export const DEFAULT_BRIDGE_FINGERPRINT = "2B280B23E1107BB62ABFC40DDCC8824814F80A72";

/** A peer's NAT type. A proxy whose type is unknown is treated as restricted. */
export type NatType = "unknown" | "restricted" | "unrestricted";
export const NAT_TYPES: readonly NatType[] = ["unknown", "restricted", "unrestricted"];

/** Proxy types the broker counts by name; any other type is reported as "unknown". */
export const KNOWN_PROXY_TYPES: ReadonlySet<string> = new Set([
  "standalone",
  "webext",
  "badge",
  "iptproxy",
]);

/** `error` of a client poll response when no proxy is waiting. */
export const ERR_NO_PROXIES = "no snowflake proxies currently available";
/** `error` of a client poll response when the matched proxy did not answer in time. */
export const ERR_TIMED_OUT = "timed out waiting for answer!";

/** Proxy poll `Status` values. */
export const STATUS_CLIENT_MATCH = "client match";
export const STATUS_NO_MATCH = "no match";
export const STATUS_BAD_RELAY_PATTERN = "incorrect relay pattern";
/** Answer response `Status` values. */
export const STATUS_SUCCESS = "success";
export const STATUS_CLIENT_GONE = "client gone";

/** A well-formed message the receiver refuses (missing offer, unknown version, ...). */
export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MessageError";
  }
}

function natType(value: string): NatType {
  if (value === "") return "unknown";
  if ((NAT_TYPES as readonly string[]).includes(value)) return value as NatType;
  throw new MessageError("invalid NAT type");
}

function majorVersionIsOne(version: string): boolean {
  return version.split(".")[0] === "1";
}

/** True for a 40-digit hex bridge fingerprint (either case). */
export function isFingerprint(s: string): boolean {
  return /^[0-9a-fA-F]{40}$/.test(s);
}

// ---------------------------------------------------------------------------------------
// Client ↔ broker

/**
 * A client's poll: its SDP offer (a {@link SessionDescription} serialized as JSON), its NAT
 * type and the bridge it wants (by fingerprint), or — newer clients — a relay URL instead.
 */
export interface ClientPollRequest {
  offer: string;
  nat: NatType;
  /** 40 hex digits; "" only when `relayURL` is set. */
  fingerprint: string;
  /** A WebSocket URL the broker checks against its allowed relay pattern. */
  relayURL?: string;
}

/**
 * The 1.0 poll body: `1.0\n{"offer":...,"nat":...,"fingerprint":...}`. An empty
 * fingerprint without a relay URL becomes {@link DEFAULT_BRIDGE_FINGERPRINT}, as in Go.
 */
export function encodeClientPollRequest(
  req: { offer: string; nat?: NatType; fingerprint?: string; relayURL?: string },
): string {
  const relayURL = req.relayURL ?? "";
  const fingerprint = req.fingerprint || (relayURL ? "" : DEFAULT_BRIDGE_FINGERPRINT);
  const body: Record<string, string> = { offer: req.offer, nat: req.nat ?? "", fingerprint };
  if (relayURL) body.relayURL = relayURL;
  return `${CLIENT_VERSION}\n${goJson(body)}`;
}

/** Decodes a 1.0 poll body, filling the defaults (NAT unknown, the default bridge). */
export function decodeClientPollRequest(body: string): ClientPollRequest {
  const nl = body.indexOf("\n");
  if (nl < 0 || body.slice(0, nl) !== CLIENT_VERSION) {
    throw new MessageError("unsupported message version");
  }
  const obj = parseObject(body.slice(nl + 1));
  const offer = stringField(obj, "offer");
  const nat = stringField(obj, "nat");
  let fingerprint = stringField(obj, "fingerprint");
  const relayURL = stringField(obj, "relayURL");
  if (offer === "") throw new MessageError("no supplied offer");
  if (fingerprint !== "" && relayURL !== "") {
    throw new MessageError("when RelayURL is specified, Fingerprint must be empty");
  }
  if (fingerprint === "" && relayURL === "") fingerprint = DEFAULT_BRIDGE_FINGERPRINT;
  if (relayURL === "" && !isFingerprint(fingerprint)) {
    throw new MessageError("cannot decode fingerprint");
  }
  const req: ClientPollRequest = { offer, nat: natType(nat), fingerprint };
  if (relayURL) req.relayURL = relayURL;
  return req;
}

/**
 * True when a `/client` body is the legacy bare offer (it starts with `{`); its NAT type
 * then comes from the `Snowflake-NAT-Type` header and the reply is the raw answer.
 */
export function isLegacyClientBody(body: string): boolean {
  return body.startsWith("{");
}

/** The header carrying a legacy client's NAT type. */
export const LEGACY_NAT_HEADER = "Snowflake-NAT-Type";

/** The 1.0 poll equivalent to a legacy bare offer and its NAT header. */
export function legacyClientPollRequest(body: string, natHeader: string | null): string {
  return encodeClientPollRequest({ offer: body, nat: (natHeader ?? "") as NatType });
}

/** The broker's reply to a client poll: exactly one of `answer` and `error` is set. */
export interface ClientPollResponse {
  answer?: string;
  error?: string;
}

/** `{"answer":...}` or `{"error":...}` (no version line). */
export function encodeClientPollResponse(resp: ClientPollResponse): string {
  const out: Record<string, string> = {};
  if (resp.answer) out.answer = resp.answer;
  if (resp.error) out.error = resp.error;
  return goJson(out);
}

/** Decodes a client poll response; MessageError when it has neither answer nor error. */
export function decodeClientPollResponse(text: string): ClientPollResponse {
  const obj = parseObject(text);
  const answer = stringField(obj, "answer");
  const error = stringField(obj, "error");
  if (answer === "" && error === "") throw new MessageError("received empty broker response");
  return error ? { error } : { answer };
}

// ---------------------------------------------------------------------------------------
// Proxy ↔ broker (Go field names, no json tags)

/** A proxy's poll for a client. */
export interface ProxyPollRequest {
  /** The proxy's session id for this poll (Go proxies: base64 of 16 random bytes). */
  sid: string;
  version: string;
  /** "standalone", "webext", "badge", "iptproxy"; anything else decodes as "unknown". */
  type: string;
  nat: NatType;
  /** Current clients, rounded down to a multiple of 8 by the proxy. */
  clients: number;
  /** The relay hosts the proxy accepts (absent from pre-1.3 proxies). */
  acceptedRelayPattern?: string;
}

/** `{"Sid":...,"Version":"1.3","Type":...,"NAT":...,"Clients":...,"AcceptedRelayPattern":...}` */
export function encodeProxyPollRequest(
  req: {
    sid: string;
    type: string;
    nat: NatType;
    clients: number;
    acceptedRelayPattern?: string;
  },
): string {
  return goJson({
    Sid: req.sid,
    Version: PROXY_VERSION,
    Type: req.type,
    NAT: req.nat,
    Clients: req.clients,
    AcceptedRelayPattern: req.acceptedRelayPattern ?? "",
  });
}

/** Decodes a proxy poll of any 1.x version. */
export function decodeProxyPollRequest(text: string): ProxyPollRequest {
  const obj = parseObject(text);
  const version = stringField(obj, "Version");
  if (!majorVersionIsOne(version)) throw new MessageError("using unknown version");
  const sid = stringField(obj, "Sid");
  if (sid === "") throw new MessageError("no supplied session id");
  const nat = natType(stringField(obj, "NAT"));
  const rawType = stringField(obj, "Type");
  const req: ProxyPollRequest = {
    sid,
    version,
    type: KNOWN_PROXY_TYPES.has(rawType) ? rawType : "unknown",
    nat,
    clients: intField(obj, "Clients"),
  };
  const pattern = optionalStringField(obj, "AcceptedRelayPattern");
  if (pattern !== undefined) req.acceptedRelayPattern = pattern;
  return req;
}

/** The broker's reply to a proxy poll. */
export interface ProxyPollResponse {
  /** {@link STATUS_CLIENT_MATCH}, {@link STATUS_NO_MATCH} or a refusal reason. */
  status: string;
  /** The client's offer ("" unless matched). */
  offer: string;
  /** The client's NAT type ("unknown" when not given). */
  nat: NatType;
  /** Where to relay the client's data ("" unless matched). */
  relayURL: string;
  /** When the proxy should poll next, in milliseconds (absent: the proxy's own interval). */
  nextPoll?: number;
}

/**
 * `{"Status":...,"Offer":...,"NAT":...,"RelayURL":...}` with every field present as Go writes
 * it; `NextPoll` (ms) is appended when set.
 */
export function encodeProxyPollResponse(
  resp: { status: string; offer?: string; nat?: NatType; relayURL?: string; nextPoll?: number },
): string {
  const out: Record<string, string | number> = {
    Status: resp.status,
    Offer: resp.offer ?? "",
    NAT: resp.nat ?? "",
    RelayURL: resp.relayURL ?? "",
  };
  if (resp.nextPoll !== undefined) out.NextPoll = Math.round(resp.nextPoll);
  return goJson(out);
}

/**
 * Decodes a poll response. A status other than match/no match (e.g. "incorrect relay
 * pattern") is returned in `status`; the caller decides. MessageError when `Status` is
 * missing, or matched without an offer.
 */
export function decodeProxyPollResponse(text: string): ProxyPollResponse {
  const obj = parseObject(text);
  const status = stringField(obj, "Status");
  if (status === "") throw new MessageError("received invalid data");
  const matched = status === STATUS_CLIENT_MATCH;
  const offer = matched ? stringField(obj, "Offer") : "";
  if (matched && offer === "") throw new MessageError("no supplied offer");
  const nat = stringField(obj, "NAT");
  const resp: ProxyPollResponse = {
    status,
    offer,
    nat: NAT_TYPES.includes(nat as NatType) ? nat as NatType : "unknown",
    relayURL: stringField(obj, "RelayURL"),
  };
  const nextPoll = intField(obj, "NextPoll");
  if (nextPoll > 0) resp.nextPoll = nextPoll;
  return resp;
}

/** A proxy's answer to the offer it was given. */
export interface ProxyAnswerRequest {
  version: string;
  sid: string;
  answer: string;
}

/** `{"Version":"1.3","Sid":...,"Answer":...}` */
export function encodeAnswerRequest(req: { sid: string; answer: string }): string {
  return goJson({ Version: PROXY_VERSION, Sid: req.sid, Answer: req.answer });
}

/** Decodes an answer of any 1.x version; MessageError when sid or answer is missing. */
export function decodeAnswerRequest(text: string): ProxyAnswerRequest {
  const obj = parseObject(text);
  const version = stringField(obj, "Version");
  if (!majorVersionIsOne(version)) throw new MessageError("using unknown version");
  const sid = stringField(obj, "Sid");
  const answer = stringField(obj, "Answer");
  if (sid === "" || answer === "") throw new MessageError("no supplied sid or answer");
  return { version, sid, answer };
}

/** `{"Status":"success"}` or `{"Status":"client gone"}`. */
export function encodeAnswerResponse(success: boolean): string {
  return goJson({ Status: success ? STATUS_SUCCESS : STATUS_CLIENT_GONE });
}

/** True when the client got the answer; MessageError when `Status` is missing. */
export function decodeAnswerResponse(text: string): boolean {
  const status = stringField(parseObject(text), "Status");
  if (status === "") throw new MessageError("received invalid data");
  return status === STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// SDP wrapping

/** An SDP offer or answer as WebRTC and the broker messages carry it. */
export interface SessionDescription {
  type: "offer" | "answer" | "pranswer" | "rollback";
  sdp: string;
}

const SDP_TYPES = ["offer", "answer", "pranswer", "rollback"];

/** `{"type":"offer","sdp":"..."}`: the string that goes in `offer`/`Offer`/`Answer`. */
export function serializeSessionDescription(desc: SessionDescription): string {
  return goJson({ type: desc.type, sdp: desc.sdp });
}

/** Parses a serialized session description; TypeError when type or sdp is missing or bad. */
export function deserializeSessionDescription(text: string): SessionDescription {
  const obj = parseObject(text);
  if (!("type" in obj)) {
    throw new TypeError("cannot deserialize SessionDescription without type field");
  }
  if (!("sdp" in obj)) {
    throw new TypeError("cannot deserialize SessionDescription without sdp field");
  }
  const { type, sdp } = obj;
  if (typeof type !== "string" || !SDP_TYPES.includes(type)) {
    throw new TypeError(`invalid SessionDescription type ${JSON.stringify(type)}`);
  }
  if (typeof sdp !== "string") throw new TypeError("SessionDescription sdp must be a string");
  return { type: type as SessionDescription["type"], sdp };
}

/** True when an SDP (or its JSON wrapping) carries at least one ICE candidate. */
export function hasCandidate(sdp: string): boolean {
  return sdp.includes("a=candidate");
}
