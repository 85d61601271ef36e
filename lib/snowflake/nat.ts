/**
 * The client's NAT type by STUN behaviour discovery (RFC 5780 §4.3–4.4), as the Go client
 * decides it: ask a STUN server that has a second address (it advertises OTHER-ADDRESS) for
 * our mapped address from both of its addresses. The same mapping → "unrestricted"
 * (endpoint-independent mapping: a proxy behind any NAT can reach us); a different one →
 * "restricted". A server without OTHER-ADDRESS, or no reply, leaves the type "unknown".
 * The filtering test (CHANGE-REQUEST) is reported too, for logs.
 *
 * The STUN codec here is only what these tests need (RFC 8489 §5–6, 14.1–14.2; RFC 5780 §7).
 *
 * @module
 */
import type { NatType } from "./messages.ts";

// Spec constants (RFC 8489, RFC 5780).
const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_CHANGE_REQUEST = 0x0003;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_OTHER_ADDRESS = 0x802c;
const CHANGE_IP = 0x04;
const CHANGE_PORT = 0x02;

// Implementation constants.
/** Each request is sent this many times, one interval apart (RFC 8489 retransmits too). */
const ATTEMPTS = 3;

/** An IP and port. */
export interface StunAddr {
  hostname: string;
  port: number;
}

/** A decoded Binding success response. */
export interface StunResponse {
  transactionId: Uint8Array;
  mapped: StunAddr | null;
  other: StunAddr | null;
}

/** Encodes a Binding request, optionally with CHANGE-REQUEST flags. */
export function encodeBindingRequest(transactionId: Uint8Array, change = 0): Uint8Array {
  if (transactionId.length !== 12) throw new RangeError("STUN transaction id must be 12 bytes");
  const attrs = change ? 8 : 0;
  const b = new Uint8Array(20 + attrs);
  const v = new DataView(b.buffer);
  v.setUint16(0, BINDING_REQUEST);
  v.setUint16(2, attrs);
  v.setUint32(4, MAGIC_COOKIE);
  b.set(transactionId, 8);
  if (change) {
    v.setUint16(20, ATTR_CHANGE_REQUEST);
    v.setUint16(22, 4);
    v.setUint32(24, change);
  }
  return b;
}

function decodeAddress(value: Uint8Array, xor: Uint8Array | null): StunAddr {
  if (value.length < 8 || value[0] !== 0) throw new SyntaxError("STUN address too short");
  const family = value[1];
  const port = ((value[2]! << 8) | value[3]!) ^ (xor ? (xor[0]! << 8) | xor[1]! : 0);
  const len = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (len === 0 || value.length < 4 + len) throw new SyntaxError(`STUN address family ${family}`);
  const ip = value.slice(4, 4 + len).map((x, i) => x ^ (xor ? xor[i]! : 0));
  if (len === 4) return { hostname: ip.join("."), port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return { hostname: groups.join(":"), port };
}

/**
 * Decodes a Binding success response; null for anything else (other message types, a
 * different transaction, malformed). Never throws: this parses datagrams from the network.
 */
export function decodeBindingResponse(
  b: Uint8Array,
  transactionId?: Uint8Array,
): StunResponse | null {
  if (b.length < 20) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(0) !== BINDING_SUCCESS || v.getUint32(4) !== MAGIC_COOKIE) return null;
  const length = v.getUint16(2);
  if (20 + length > b.length) return null;
  const tid = b.slice(8, 20);
  if (transactionId && !tid.every((x, i) => x === transactionId[i])) return null;
  const xorKey = b.slice(4, 20);
  let mapped: StunAddr | null = null;
  let xorMapped: StunAddr | null = null;
  let other: StunAddr | null = null;
  try {
    for (let off = 20; off + 4 <= 20 + length;) {
      const type = v.getUint16(off);
      const len = v.getUint16(off + 2);
      const value = b.subarray(off + 4, off + 4 + len);
      if (value.length < len) return null;
      if (type === ATTR_XOR_MAPPED_ADDRESS) xorMapped = decodeAddress(value, xorKey);
      else if (type === ATTR_MAPPED_ADDRESS) mapped = decodeAddress(value, null);
      else if (type === ATTR_OTHER_ADDRESS) other = decodeAddress(value, null);
      off += 4 + len + ((4 - (len % 4)) % 4);
    }
  } catch {
    return null;
  }
  return { transactionId: tid, mapped: xorMapped ?? mapped, other };
}

/** What the behaviour tests found. */
export interface NatBehaviour {
  /** What the client tells the broker. */
  type: NatType;
  mapping: "endpoint-independent" | "address-dependent" | "unknown";
  filtering: "endpoint-independent" | "address-dependent" | "unknown";
  /** Why the type is unknown, when it is. */
  reason?: string;
}

/** Options for {@link discoverNat}. */
export interface DiscoverNatOptions {
  /** Wait this long for each reply before resending. Default 1000 ms (×3 attempts). */
  intervalMs?: number;
  /** Local address to bind. Default 0.0.0.0:0. */
  bind?: { hostname: string; port: number };
}

/**
 * Runs the RFC 5780 mapping and filtering tests against `server` (`host:port` or
 * `stun:host:port`). Never throws: failures give type "unknown" with a reason.
 */
export async function discoverNat(
  server: string,
  options: DiscoverNatOptions = {},
): Promise<NatBehaviour> {
  const unknown = (reason: string): NatBehaviour => ({
    type: "unknown",
    mapping: "unknown",
    filtering: "unknown",
    reason,
  });
  const m = /^(?:stun:)?(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server.trim());
  if (!m) return unknown(`bad STUN server ${server}`);
  const primary = { hostname: m[1] ?? m[2]!, port: Number(m[3] ?? 3478) };
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({
      transport: "udp",
      hostname: options.bind?.hostname ?? "0.0.0.0",
      port: options.bind?.port ?? 0,
    });
  } catch (e) {
    return unknown(`cannot open a UDP socket: ${(e as Error).message}`);
  }
  const interval = options.intervalMs ?? 1000;
  const ask = (to: StunAddr, change = 0) => roundTrip(sock, to, change, interval);
  try {
    const test1 = await ask(primary);
    if (!test1?.mapped) return unknown("no reply from the STUN server");
    if (!test1.other) {
      return unknown("the STUN server does not support RFC 5780 (no OTHER-ADDRESS)");
    }
    const test2 = await ask(test1.other);
    if (!test2?.mapped) return unknown("no reply from the STUN server's other address");
    const same = test1.mapped.hostname === test2.mapped.hostname &&
      test1.mapped.port === test2.mapped.port;
    const filtered = await ask(primary, CHANGE_IP | CHANGE_PORT);
    return {
      type: same ? "unrestricted" : "restricted",
      mapping: same ? "endpoint-independent" : "address-dependent",
      filtering: filtered ? "endpoint-independent" : "address-dependent",
    };
  } finally {
    sock.close();
  }
}

/** What a STUN server saw of us: our IP ("" if it did not say) and whether our port came through. */
export interface StunSeen {
  ip: string;
  portKept: boolean;
}

/**
 * What `server` (`host:port` or `stun:host:port`) saw of us, when it answers a Binding request
 * within `timeoutMs` (three tries); else null. Never throws.
 */
export async function stunSeen(server: string, timeoutMs = 1500): Promise<StunSeen | null> {
  const m = /^(?:stun:)?(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server.trim());
  if (!m) return null;
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  } catch {
    return null;
  }
  try {
    const to = { hostname: m[1] ?? m[2]!, port: Number(m[3] ?? 3478) };
    const resp = await roundTrip(sock, to, 0, timeoutMs / ATTEMPTS);
    if (resp === null) return null;
    const port = (sock.addr as Deno.NetAddr).port;
    return { ip: resp.mapped?.hostname ?? "", portKept: resp.mapped?.port === port };
  } finally {
    sock.close();
  }
}

/** What a list of STUN servers saw of us: each one's answer, and our untranslated addresses. */
export interface StunProbe {
  /** Per server, in order: what it saw, or null if it did not answer. */
  seen: (StunSeen | null)[];
  /** The addresses seen with our port unchanged (no NAT in the way). */
  untranslated: string[];
}

/** Probe results by server list, shared by the whole process, redone after this. */
const PROBE_TTL_MS = 10 * 60_000;
const probes = new Map<string, { at: number; result: Promise<StunProbe> }>();

/**
 * Asks every server in `servers` in parallel ({@link stunSeen}), once per process and list, again
 * after {@link PROBE_TTL_MS} since addresses change. Never rejects.
 */
export function probeStunServers(servers: string[]): Promise<StunProbe> {
  const key = servers.join(",");
  const cached = probes.get(key);
  if (cached && Date.now() - cached.at < PROBE_TTL_MS) return cached.result;
  const result = Promise.all(servers.map((u) => stunSeen(u))).then((seen) => ({
    seen,
    untranslated: [...new Set(seen.flatMap((s) => s?.portKept && s.ip ? [s.ip] : []))],
  }));
  probes.set(key, { at: Date.now(), result });
  return result;
}

/** Sends a Binding request up to {@link ATTEMPTS} times; the response or null. */
async function roundTrip(
  sock: Deno.DatagramConn,
  to: StunAddr,
  change: number,
  intervalMs: number,
): Promise<StunResponse | null> {
  const tid = crypto.getRandomValues(new Uint8Array(12));
  const req = encodeBindingRequest(tid, change);
  const addr: Deno.NetAddr = { transport: "udp", hostname: to.hostname, port: to.port };
  const deadline = Date.now() + intervalMs * ATTEMPTS;
  let nextSend = 0;
  while (Date.now() < deadline) {
    if (Date.now() >= nextSend) {
      try {
        await sock.send(req, addr);
      } catch {
        return null;
      }
      nextSend = Date.now() + intervalMs;
    }
    const got = await receiveWithin(sock, Math.min(nextSend, deadline) - Date.now());
    if (!got) continue;
    const resp = decodeBindingResponse(got, tid);
    if (resp) return resp;
  }
  return null;
}

/** One datagram, or null after `ms`. The pending receive stays queued for the next call. */
const pending = new WeakMap<Deno.DatagramConn, Promise<Uint8Array | null>>();
function receiveWithin(sock: Deno.DatagramConn, ms: number): Promise<Uint8Array | null> {
  let p = pending.get(sock);
  if (!p) {
    p = sock.receive().then(([data]) => data, () => null);
    pending.set(sock, p);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((
    r,
  ) => (timer = setTimeout(() => r("timeout"), Math.max(ms, 0))));
  return Promise.race([p, timeout]).then((r) => {
    clearTimeout(timer);
    if (r === "timeout") return null;
    pending.delete(sock);
    return r;
  });
}
