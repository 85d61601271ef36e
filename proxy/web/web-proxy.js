// Generated from proxy/web/page.ts by tools/bundle_web_proxy.ts. Do not edit.

// lib/snowflake/json.ts
var GO_ESCAPES = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029"
};
function goJson(value) {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]);
}
function parseObject(text) {
  const value = JSON.parse(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`expected a JSON object, got ${value === null ? "null" : typeof value}`);
  }
  return value;
}
function field(obj, name) {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return void 0;
}
function stringField(obj, name) {
  const v = field(obj, name);
  if (v === void 0 || v === null) return "";
  if (typeof v !== "string") throw new TypeError(`field ${name} must be a string`);
  return v;
}
function intField(obj, name) {
  const v = field(obj, name);
  if (v === void 0 || v === null) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new TypeError(`field ${name} must be an integer`);
  }
  return v;
}

// lib/snowflake/messages.ts
var PROXY_VERSION = "1.3";
var NAT_TYPES = ["unknown", "restricted", "unrestricted"];
var STATUS_CLIENT_MATCH = "client match";
var STATUS_BAD_RELAY_PATTERN = "incorrect relay pattern";
var STATUS_SUCCESS = "success";
var MessageError = class extends Error {
  constructor(message) {
    super(message);
    this.name = "MessageError";
  }
};
function majorVersionIsOne(version) {
  return version.split(".")[0] === "1";
}
function encodeProxyPollRequest(req) {
  return goJson({
    Sid: req.sid,
    Version: PROXY_VERSION,
    Type: req.type,
    NAT: req.nat,
    Clients: req.clients,
    AcceptedRelayPattern: req.acceptedRelayPattern ?? ""
  });
}
function encodeProxyPollResponse(resp) {
  const out = {
    Status: resp.status,
    Offer: resp.offer ?? "",
    NAT: resp.nat ?? "",
    RelayURL: resp.relayURL ?? ""
  };
  if (resp.nextPoll !== void 0) out.NextPoll = Math.round(resp.nextPoll);
  return goJson(out);
}
function decodeProxyPollResponse(text) {
  const obj = parseObject(text);
  const status2 = stringField(obj, "Status");
  if (status2 === "") throw new MessageError("received invalid data");
  const matched = status2 === STATUS_CLIENT_MATCH;
  const offer = matched ? stringField(obj, "Offer") : "";
  if (matched && offer === "") throw new MessageError("no supplied offer");
  const nat = stringField(obj, "NAT");
  const resp = {
    status: status2,
    offer,
    nat: NAT_TYPES.includes(nat) ? nat : "unknown",
    relayURL: stringField(obj, "RelayURL")
  };
  const nextPoll = intField(obj, "NextPoll");
  if (nextPoll > 0) resp.nextPoll = nextPoll;
  return resp;
}
function encodeAnswerRequest(req) {
  return goJson({ Version: PROXY_VERSION, Sid: req.sid, Answer: req.answer });
}
function decodeAnswerRequest(text) {
  const obj = parseObject(text);
  const version = stringField(obj, "Version");
  if (!majorVersionIsOne(version)) throw new MessageError("using unknown version");
  const sid = stringField(obj, "Sid");
  const answer = stringField(obj, "Answer");
  if (sid === "" || answer === "") throw new MessageError("no supplied sid or answer");
  return { version, sid, answer };
}
function decodeAnswerResponse(text) {
  const status2 = stringField(parseObject(text), "Status");
  if (status2 === "") throw new MessageError("received invalid data");
  return status2 === STATUS_SUCCESS;
}
var SDP_TYPES = ["offer", "answer", "pranswer", "rollback"];
function serializeSessionDescription(desc) {
  return goJson({ type: desc.type, sdp: desc.sdp });
}
function deserializeSessionDescription(text) {
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
  return { type, sdp };
}

// lib/net/free_after_write.ts
function freeAfterWrite(w) {
  const writer = w.getWriter();
  return new WritableStream({
    // A pipe into this stream learns at once that `w` failed, as it would piping into `w`.
    start: (controller) => void writer.closed.catch((e) => controller.error(e)),
    async write(chunk) {
      await writer.write(chunk);
      free(chunk);
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason)
  });
}
function free(chunk) {
  const buf = chunk.buffer;
  if (buf instanceof ArrayBuffer && typeof buf.transfer === "function" && !buf.resizable && chunk.byteOffset === 0 && chunk.byteLength === buf.byteLength) buf.transfer(0);
}

// lib/net/addr.ts
var NamedAddr = class {
  constructor(network, name) {
    this.network = network;
    this.name = name;
  }
  network;
  name;
  toString() {
    return this.name;
  }
};

// lib/net/errors.ts
var ClosedError = class extends Error {
  constructor(what = "connection") {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
};
var TimeoutError = class extends Error {
  constructor(what = "operation") {
    super(`${what} timed out`);
    this.name = "TimeoutError";
  }
};

// lib/snowflake/webrtc.ts
var globalTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id)
};
function sleep(ms, timers = globalTimers) {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}
function closePeer(pc) {
  try {
    pc?.close();
  } catch {
  }
}
async function gatherLocalDescription(pc, description, timeoutMs = 1e4, timers = globalTimers) {
  let onChange = () => {
  };
  let onCandidate = (_e) => {
  };
  let timer;
  const gathered = new Promise((resolve) => {
    onChange = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    onCandidate = (e) => {
      if (e.candidate === null) resolve();
    };
    timer = timers.setTimeout(resolve, timeoutMs);
  });
  pc.addEventListener("icegatheringstatechange", onChange);
  pc.addEventListener("icecandidate", onCandidate);
  try {
    await pc.setLocalDescription(description);
    onChange();
    await gathered;
  } finally {
    timers.clearTimeout(timer);
    pc.removeEventListener("icegatheringstatechange", onChange);
    pc.removeEventListener("icecandidate", onCandidate);
  }
  const local = pc.localDescription;
  if (!local) throw new Error("no local description after gathering");
  return { type: local.type, sdp: local.sdp };
}
function ipv4Octets(ip) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  return o.every((x) => x <= 255) ? o : null;
}
function isIPAddress(host) {
  const h = host.replace(/^\[|\]$/g, "");
  return ipv4Octets(h) !== null || h.includes(":") && /^[0-9a-fA-F:.]+(%.+)?$/.test(h);
}
function isLocalAddress(address) {
  let ip = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) ip = mapped[1];
  const o = ipv4Octets(ip);
  if (o) {
    const [a, b] = o;
    return a === 10 || a === 127 || a === 0 || a === 172 && (b & 240) === 16 || a === 192 && b === 168 || a === 100 && (b & 192) === 64 || a === 169 && b === 254;
  }
  if (!ip.includes(":") || !/^[0-9a-f:.]+$/.test(ip)) return false;
  const groups = expandIPv6(ip);
  if (!groups) return false;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 65535) {
    const [hi, lo] = [groups[6], groups[7]];
    return isLocalAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  if (groups.every((g) => g === 0)) return true;
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return true;
  const first = groups[0];
  return (first & 65024) === 64512 || (first & 65472) === 65152;
}
function expandIPv6(ip) {
  const halves = ip.split("::");
  if (halves.length > 2) return null;
  const parse = (s) => s === "" ? [] : s.split(":").map((g) => parseInt(g, 16));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || halves.length === 1 && fill !== 0) return null;
  const all = [...head, ...Array(fill).fill(0), ...tail];
  return all.some((g) => Number.isNaN(g) || g > 65535) ? null : all;
}
function candidateAddress(line) {
  const value = line.replace(/^a=/, "").replace(/^candidate:/, "");
  const fields = value.trim().split(/\s+/);
  return fields.length >= 8 ? fields[4] : null;
}
function stripLocalCandidates(sdp) {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp.split(eol).filter((line) => {
    if (!line.startsWith("a=candidate:")) return true;
    const address = candidateAddress(line);
    return !(address && (isLocalAddress(address) || address.endsWith(".local")));
  }).join(eol);
}
function remoteIPFromSDP(sdp) {
  const lines = sdp.split(/\r?\n/);
  for (const line of lines) {
    if (!line.startsWith("a=candidate:")) continue;
    const address = candidateAddress(line);
    if (address && isIPAddress(address) && !isLocalAddress(address)) return address;
  }
  for (const line of lines) {
    const m = /^c=IN IP[46] ([0-9A-Fa-f:.]+)/.exec(line);
    if (m && isIPAddress(m[1]) && !isLocalAddress(m[1])) return m[1];
  }
  return null;
}

// lib/snowflake/datachannel.ts
function dataChannelConn(dc, options = {}) {
  const highWater = options.highWaterMark ?? 1 << 20;
  const pollMs = options.pollMs ?? 1;
  const maxMessage = options.maxMessageSize ?? 16384;
  const timers = options.timers ?? globalTimers;
  dc.binaryType = "arraybuffer";
  let isClosed = false;
  let resolveClosed = () => {
  };
  const closed = new Promise((r) => resolveClosed = r);
  let endReadable = () => {
  };
  const onOpen = () => resolveOpen();
  let resolveOpen = () => {
  };
  const opened = new Promise((resolve) => {
    resolveOpen = resolve;
    if (dc.readyState === "open") resolve();
  });
  const onMessage = (ev) => {
    const d = ev.data;
    const chunk = typeof d === "string" ? new TextEncoder().encode(d) : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer.slice(0));
    options.onRead?.(chunk.byteLength);
    enqueue(chunk);
  };
  let enqueue = (_c) => {
  };
  const finish = () => {
    if (isClosed) return;
    isClosed = true;
    dc.removeEventListener("open", onOpen);
    dc.removeEventListener("message", onMessage);
    dc.removeEventListener("close", finish);
    dc.removeEventListener("error", finish);
    try {
      dc.close();
    } catch {
    }
    resolveOpen();
    endReadable();
    resolveClosed();
    options.onClose?.();
  };
  dc.addEventListener("open", onOpen);
  dc.addEventListener("message", onMessage);
  dc.addEventListener("close", finish);
  dc.addEventListener("error", finish);
  const readable = new ReadableStream({
    start(controller) {
      let done = false;
      enqueue = (chunk) => {
        if (!done) controller.enqueue(chunk);
      };
      endReadable = () => {
        if (done) return;
        done = true;
        try {
          controller.close();
        } catch {
        }
      };
    },
    cancel: finish
  }, { highWaterMark: Infinity });
  let bufferedBound = 0;
  const writable = new WritableStream({
    async write(chunk) {
      await opened;
      for (let off = 0; off < chunk.byteLength; off += maxMessage) {
        if (isClosed) throw new ClosedError("data channel");
        const piece = chunk.subarray(off, Math.min(off + maxMessage, chunk.byteLength));
        try {
          dc.send(piece);
        } catch {
          throw new ClosedError("data channel");
        }
        options.onWrite?.(piece.byteLength);
        bufferedBound += piece.byteLength;
        if (bufferedBound <= highWater) continue;
        while ((bufferedBound = dc.bufferedAmount) > highWater) {
          if (isClosed || dc.readyState !== "open") throw new ClosedError("data channel");
          await sleep(pollMs, timers);
        }
      }
    },
    async close() {
      while (!isClosed && dc.readyState === "open" && dc.bufferedAmount > 0) {
        await sleep(pollMs, timers);
      }
      finish();
    },
    abort: finish
  });
  return {
    channel: dc,
    closed,
    readable,
    writable,
    localAddr: options.localAddr ?? new NamedAddr("webrtc", "local"),
    remoteAddr: options.remoteAddr ?? new NamedAddr("webrtc", dc.label),
    close: finish
  };
}

// lib/snowflake/gather.ts
var COVERED_SETTLE_MS = 100;
var QUIET_MS = 1e3;
function parseCandidate(line) {
  const f = line.replace(/^a=/, "").split(" ");
  const at = f.indexOf("raddr");
  return {
    udp: f[2]?.toLowerCase() === "udp",
    ip: f[4] ?? "",
    type: f[f.indexOf("typ") + 1] ?? "",
    raddr: at > 0 ? f[at + 1] ?? "" : ""
  };
}
function routableIPv4(ip) {
  return /^\d+\.\d+\.\d+\.\d+$/.test(ip) && !ip.startsWith("127.") && !ip.startsWith("169.254.");
}
async function gatherUsable(pc, description, options) {
  const timers = options.timers ?? globalTimers;
  const hosts = /* @__PURE__ */ new Set();
  const covered = /* @__PURE__ */ new Set();
  let finish = () => {
  };
  const finished = new Promise((r) => finish = r);
  let check;
  let settle;
  let quiet;
  const evaluate = () => {
    check = void 0;
    if (hosts.size === 0) return;
    const done = [...hosts].filter(
      (h) => !options.stun || covered.has(h) || options.reflexive.includes(h)
    );
    if (done.length === hosts.size) return finish();
    if (done.length > 0 && settle === void 0) {
      settle = timers.setTimeout(finish, COVERED_SETTLE_MS);
    }
  };
  const onCandidate = (e) => {
    const c = e.candidate;
    if (c === null) return finish();
    const p = parseCandidate(c.candidate);
    if (p.udp && p.type === "host" && routableIPv4(p.ip)) hosts.add(p.ip);
    if (p.type === "srflx") {
      if (routableIPv4(p.raddr)) covered.add(p.raddr);
      else hosts.forEach((h) => covered.add(h));
    }
    timers.clearTimeout(quiet);
    quiet = timers.setTimeout(finish, QUIET_MS);
    check ??= timers.setTimeout(evaluate, 0);
  };
  const onState = () => {
    if (pc.iceGatheringState === "complete") finish();
  };
  const timeout = timers.setTimeout(finish, options.timeoutMs);
  pc.addEventListener("icecandidate", onCandidate);
  pc.addEventListener("icegatheringstatechange", onState);
  try {
    await pc.setLocalDescription(description);
    onState();
    await finished;
  } finally {
    for (const t of [timeout, check, settle, quiet]) timers.clearTimeout(t);
    pc.removeEventListener("icecandidate", onCandidate);
    pc.removeEventListener("icegatheringstatechange", onState);
  }
  const local = pc.localDescription;
  if (!local) throw new Error("no local description after ICE gathering");
  return { type: local.type, sdp: withoutTcpCandidates(local.sdp) };
}
function withoutTcpCandidates(sdp) {
  return sdp.split(/\r\n/).filter(
    (l) => !(l.startsWith("a=candidate:") && parseCandidate(l).udp === false)
  ).join("\r\n");
}

// proxy/relay/http.ts
var READ_LIMIT = 1e5;
async function postText(fetchFn, url, body, signal) {
  const res = await fetchFn(url, { method: "POST", body, signal });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${new URL(url).pathname} returned status ${res.status}`);
  }
  const text = await res.text();
  if (text.length > READ_LIMIT) throw new RangeError(`reply longer than ${READ_LIMIT} bytes`);
  return text;
}

// proxy/relay/probe.ts
var PROBE_LINGER_MS = 250;
async function probeNATType(env, probeURL) {
  const pc = env.webrtc.newPeerConnection(env.peerConfig);
  try {
    const channel = pc.createDataChannel("test");
    let onOpen = () => {
    };
    const opened = new Promise((resolve) => onOpen = resolve);
    channel.addEventListener("open", onOpen);
    const offer = await gatherLocalDescription(pc, await pc.createOffer(), 1e4, env.timers);
    const sdp = env.keepLocalAddresses ? offer.sdp : stripLocalCandidates(offer.sdp);
    const body = encodeProxyPollResponse({
      status: STATUS_CLIENT_MATCH,
      offer: serializeSessionDescription({ type: "offer", sdp })
    });
    const reply = await postText(env.fetch, probeURL, body, env.signal);
    const answer = deserializeSessionDescription(decodeAnswerRequest(reply).answer);
    await pc.setRemoteDescription(answer);
    let timer;
    let onAbort = () => {
    };
    const outcome = new Promise((resolve) => {
      timer = env.timers.setTimeout(() => resolve("late"), env.openTimeoutMs);
      onAbort = () => resolve("aborted");
      env.signal?.addEventListener("abort", onAbort);
    });
    const result = await Promise.race([opened.then(() => "open"), outcome]);
    env.timers.clearTimeout(timer);
    env.signal?.removeEventListener("abort", onAbort);
    channel.removeEventListener("open", onOpen);
    if (result === "aborted") throw new Error("stopped");
    if (result === "late") return "restricted";
    await sleep(PROBE_LINGER_MS, env.timers);
    return "unrestricted";
  } finally {
    closePeer(pc);
  }
}

// lib/snowflake/name_matcher.ts
var NameMatcher = class {
  exact;
  suffix;
  constructor(rule) {
    const trimmed = rule.endsWith("$") ? rule.slice(0, -1) : rule;
    this.exact = trimmed.startsWith("^");
    this.suffix = this.exact ? trimmed.slice(1) : trimmed;
  }
  /** True when `host` (hostname, optionally with port) matches. */
  matches(host) {
    return this.exact ? host === this.suffix : host.endsWith(this.suffix);
  }
  /** True when every host `other` matches, this matches too. */
  covers(other) {
    if (this.exact) return other.exact && this.suffix === other.suffix;
    return other.suffix.endsWith(this.suffix);
  }
};
function isValidRule(rule) {
  return rule.endsWith("$");
}

// proxy/relay/safeguards.ts
var DEFAULT_RELAY_PATTERN = "snowflake.torproject.net$";
function checkRelayPattern(pattern) {
  if (!isValidRule(pattern)) {
    throw new SyntaxError(`relay hostname pattern ${JSON.stringify(pattern)} must end with "$"`);
  }
}
function relayRefusal(relayURL, policy) {
  let url;
  try {
    url = new URL(relayURL);
  } catch {
    return "relay URL is not a URL";
  }
  if (url.protocol !== "wss:" && url.protocol !== "ws:") {
    return "relay URL is not a WebSocket URL";
  }
  const listed = policy.listedRelays?.some((r) => URL.canParse(r) && new URL(r).href === url.href);
  if (url.protocol === "ws:" && !policy.allowNonTLS && !listed) {
    return "relay URL is not TLS (ws://) and --allow-non-tls-relay is not set";
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const privateHost = hostname === "localhost" || hostname.endsWith(".localhost") || isIPAddress(hostname) && isLocalAddress(hostname);
  if (privateHost && !policy.allowPrivateAddresses && !listed) {
    return "relay URL is a private address and --allow-proxying-to-private-addresses is not set";
  }
  const matcher = new NameMatcher(policy.allowedHostPattern);
  if (!matcher.matches(url.host) && !matcher.matches(url.hostname)) {
    return `relay host does not match the allowed pattern ${policy.allowedHostPattern}`;
  }
  return null;
}

// proxy/relay/stats.ts
var ProxyStats = class {
  /** Client connections whose data channel opened. */
  connections = 0;
  /** Client connections open now. */
  active = 0;
  /** Bytes from clients to the relay, and from the relay to clients. */
  bytesFromClients = 0;
  bytesToClients = 0;
  polls = 0;
  pollErrors = 0;
  offers = 0;
  /** Offers whose relay URL the safeguards refused. */
  refusedRelays = 0;
  /** Answers the broker could not deliver (the client was gone). */
  clientsGone = 0;
  /** Data channels that did not open in time. */
  openTimeouts = 0;
  /** Relays closed after a period without traffic. */
  inactivityCloses = 0;
  relayDialErrors = 0;
  #window = { connections: 0, fromClients: 0, toClients: 0 };
  addFromClient(n) {
    this.bytesFromClients += n;
    this.#window.fromClients += n;
  }
  addToClient(n) {
    this.bytesToClients += n;
    this.#window.toClients += n;
  }
  connected() {
    this.connections++;
    this.active++;
    this.#window.connections++;
  }
  /**
   * The summary line Go's proxy logs, for the window since the last call:
   * `In the last 1h0m0s, there were 3 completed connections. Traffic Relayed ↓ 12 KB (0.01 KB/s), ↑ 3 KB (0.00 KB/s).`
   * (↓ is what clients downloaded through us, ↑ what they uploaded.)
   */
  takeSummary(intervalMs) {
    const w = this.#window;
    this.#window = { connections: 0, fromClients: 0, toClients: 0 };
    const s = intervalMs / 1e3;
    const kb = (n) => `${Math.round(n / 1e3)} KB (${(n / 1e3 / s).toFixed(2)} KB/s)`;
    return `In the last ${goDuration(intervalMs)}, there were ${w.connections} connections (${this.active} open now). Traffic Relayed ↓ ${kb(w.toClients)}, ↑ ${kb(w.fromClients)}.`;
  }
  /** The Prometheus text exposition; `nat` becomes a labelled gauge. */
  prometheus(nat) {
    const lines = [];
    const metric = (name, type, help, value, label = "") => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${label} ${value}`);
    };
    const p = "tor_snowflake_proxy_";
    metric(`${p}connections_total`, "counter", "client connections opened", this.connections);
    metric(`${p}connections_active`, "gauge", "client connections open now", this.active);
    metric(
      `${p}traffic_inbound_bytes_total`,
      "counter",
      "bytes from clients",
      this.bytesFromClients
    );
    metric(
      `${p}traffic_outbound_bytes_total`,
      "counter",
      "bytes to clients",
      this.bytesToClients
    );
    metric(
      `${p}connection_timeouts_total`,
      "counter",
      "data channels that never opened",
      this.openTimeouts
    );
    metric(
      `${p}inactivity_closes_total`,
      "counter",
      "relays closed when idle",
      this.inactivityCloses
    );
    metric(`${p}polls_total`, "counter", "broker polls", this.polls);
    metric(`${p}poll_errors_total`, "counter", "broker polls that failed", this.pollErrors);
    metric(`${p}offers_total`, "counter", "client offers received", this.offers);
    metric(
      `${p}refused_relays_total`,
      "counter",
      "offers refused by the relay safeguards",
      this.refusedRelays
    );
    metric(
      `${p}clients_gone_total`,
      "counter",
      "answers the broker could not deliver",
      this.clientsGone
    );
    metric(
      `${p}relay_dial_errors_total`,
      "counter",
      "relay WebSocket dials that failed",
      this.relayDialErrors
    );
    metric(`${p}nat_type`, "gauge", "the NAT type found by the last probe", 1, `{type="${nat}"}`);
    return lines.join("\n") + "\n";
  }
};
function goDuration(ms) {
  if (ms === 0) return "0s";
  if (ms < 1e3) return `${ms}ms`;
  const h = Math.floor(ms / 36e5);
  const m = Math.floor(ms % 36e5 / 6e4);
  const s = ms % 6e4 / 1e3;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

// proxy/relay/core.ts
var PROXY_DEFAULTS = {
  brokerURL: "https://snowflake-broker.torproject.net/",
  defaultRelayURL: "wss://snowflake.torproject.net/",
  stunURLs: ["stun:stun.l.google.com:19302", "stun:stun.voip.blackberry.com:3478"],
  natProbeURL: "https://snowflake-broker.torproject.net:8443/probe",
  capacity: 0,
  keepLocalAddresses: false,
  natRetestIntervalMs: 24 * 36e5,
  pollIntervalMs: 5e3,
  summaryIntervalMs: 36e5,
  proxyType: "standalone",
  dataChannelTimeoutMs: 2e4,
  inactivityTimeoutMs: 3e4,
  // Below the broker's 5 s client timeout (CLIENT_TIMEOUT_MS, as recent Go brokers): libwebrtc
  // never completes gathering for some offers (Debian's Go client's, in tests/client/chain.ts),
  // and an answer sent at 5 s always came too late.
  gatherTimeoutMs: 3e3
};
var MIN_POLL_MS = 1e3;
var SnowflakeProxy = class {
  stats = new ProxyStats();
  #cfg;
  #env;
  #fetch;
  #timers;
  #now;
  #stop = new AbortController();
  #peers = /* @__PURE__ */ new Set();
  #sessions = /* @__PURE__ */ new Set();
  #nat = "unknown";
  #clients = 0;
  #slotFreed = () => {
  };
  constructor(config, env) {
    this.#cfg = config;
    this.#env = env;
    this.#fetch = env.fetch ?? ((input, init) => fetch(input, init));
    this.#timers = env.timers ?? globalTimers;
    this.#now = env.now ?? Date.now;
  }
  /** The NAT type from the last successful probe ("unknown" before). */
  get natType() {
    return this.#nat;
  }
  /** Clients being served (or being answered) now. */
  get clients() {
    return this.#clients;
  }
  get #peerConfig() {
    const config = { iceServers: [{ urls: this.#cfg.stunURLs }] };
    if (this.#cfg.stunURLs.length === 0) config.iceServers = [];
    if (this.#cfg.portRange) config.portRange = this.#cfg.portRange;
    return config;
  }
  /** Probes the NAT, then polls and serves clients until {@link stop}. */
  async run() {
    const stopSummary = this.#every(
      this.#cfg.summaryIntervalMs,
      () => this.#env.log(this.stats.takeSummary(this.#cfg.summaryIntervalMs))
    );
    this.#env.reflexive?.(this.#cfg.stunURLs).catch(() => {
    });
    await this.probeNAT();
    const stopRetest = this.#every(this.#cfg.natRetestIntervalMs, () => this.probeNAT());
    try {
      await this.#pollLoop();
    } finally {
      stopSummary();
      stopRetest();
      await Promise.all(this.#sessions);
    }
  }
  /** Runs `task` every `ms` (0 = never), each run after the previous one ended; returns a stop. */
  #every(ms, task) {
    let timer;
    let stopped = ms <= 0;
    const tick = async () => {
      await task();
      if (!stopped && !this.#stop.signal.aborted) timer = this.#timers.setTimeout(tick, ms);
    };
    if (!stopped) timer = this.#timers.setTimeout(tick, ms);
    return () => {
      stopped = true;
      this.#timers.clearTimeout(timer);
    };
  }
  /** Stops polling and closes every client connection; `run()` then resolves. */
  stop() {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort(new Error("proxy stopped"));
    for (const pc of this.#peers) closePeer(pc);
    this.#slotFreed();
  }
  /** Runs the NAT probe once; on failure the previous type stays. */
  async probeNAT() {
    const before = this.#nat;
    this.#env.log(`checking our NAT type with the probe server ${this.#cfg.natProbeURL}`);
    try {
      this.#nat = await probeNATType({
        webrtc: this.#env.webrtc,
        timers: this.#timers,
        fetch: this.#fetch,
        peerConfig: this.#peerConfig,
        keepLocalAddresses: this.#cfg.keepLocalAddresses,
        openTimeoutMs: this.#cfg.dataChannelTimeoutMs,
        signal: this.#stop.signal
      }, this.#cfg.natProbeURL);
      this.#env.log(`NAT type: ${before} -> ${this.#nat}`);
    } catch (e) {
      this.#env.log(`NAT probe failed (${errorText(e)}); NAT type stays ${this.#nat}`);
    }
    return this.#nat;
  }
  #sleep(ms) {
    const signal = this.#stop.signal;
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#timers.clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = this.#timers.setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }
  async #takeSlot() {
    while (this.#cfg.capacity > 0 && this.#clients >= this.#cfg.capacity) {
      if (this.#stop.signal.aborted) return;
      await new Promise((resolve) => this.#slotFreed = resolve);
    }
    this.#clients++;
  }
  #releaseSlot() {
    this.#clients--;
    this.#slotFreed();
  }
  async #pollLoop() {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.#takeSlot();
      if (signal.aborted) {
        this.#releaseSlot();
        break;
      }
      const started = this.#now();
      let interval = this.#cfg.pollIntervalMs;
      let handedOff = false;
      try {
        const sid = sessionID();
        const reply = await this.#poll(sid);
        if (reply.nextPoll !== void 0) interval = Math.max(MIN_POLL_MS, reply.nextPoll);
        if (reply.status === STATUS_CLIENT_MATCH) {
          handedOff = true;
          const session = this.#session(sid, reply).finally(() => {
            this.#sessions.delete(session);
            this.#releaseSlot();
          });
          this.#sessions.add(session);
        } else if (reply.status === STATUS_BAD_RELAY_PATTERN) {
          this.#env.log(
            "the broker refused our --allowed-relay-hostname-pattern: it covers none of its relays"
          );
        }
      } catch (e) {
        if (!signal.aborted) {
          this.stats.pollErrors++;
          this.#env.log(`error polling broker: ${errorText(e)}`);
        }
      } finally {
        if (!handedOff) this.#releaseSlot();
      }
      await this.#sleep(interval - (this.#now() - started));
    }
  }
  async #poll(sid) {
    this.stats.polls++;
    const body = encodeProxyPollRequest({
      sid,
      type: this.#cfg.proxyType,
      nat: this.#nat,
      clients: Math.floor(this.#clients / 8) * 8,
      acceptedRelayPattern: this.#cfg.policy.allowedHostPattern
    });
    const url = new URL("proxy", this.#cfg.brokerURL).toString();
    const reply = decodeProxyPollResponse(
      await postText(this.#fetch, url, body, this.#stop.signal)
    );
    this.#env.debug?.(`poll: ${reply.status}`);
    return reply;
  }
  async #session(sid, reply) {
    this.stats.offers++;
    const relayURL = reply.relayURL || this.#cfg.defaultRelayURL;
    const refusal = relayRefusal(relayURL, this.#cfg.policy);
    if (refusal) {
      this.stats.refusedRelays++;
      this.#env.log(`refusing a client: ${refusal} (${relayURL})`);
      return;
    }
    let pc;
    let relay;
    try {
      const offer = deserializeSessionDescription(reply.offer);
      pc = this.#env.webrtc.newPeerConnection(this.#peerConfig);
      this.#peers.add(pc);
      if (this.#stop.signal.aborted) return;
      const activity = { last: this.#now() };
      const arrival = arrivingConn(pc, {
        timers: this.#timers,
        onRead: (n) => {
          this.stats.addFromClient(n);
          activity.last = this.#now();
        },
        onWrite: (n) => {
          this.stats.addToClient(n);
          activity.last = this.#now();
        }
      });
      await pc.setRemoteDescription(offer);
      const answer = this.#env.reflexive ? await gatherUsable(pc, await pc.createAnswer(), {
        stun: this.#cfg.stunURLs.length > 0,
        reflexive: await this.#env.reflexive(this.#cfg.stunURLs),
        timeoutMs: this.#cfg.gatherTimeoutMs,
        timers: this.#timers
      }) : await gatherLocalDescription(
        pc,
        await pc.createAnswer(),
        this.#cfg.gatherTimeoutMs,
        this.#timers
      );
      const sdp = this.#cfg.keepLocalAddresses ? answer.sdp : stripLocalCandidates(answer.sdp);
      const url = new URL("answer", this.#cfg.brokerURL).toString();
      const body = encodeAnswerRequest({
        sid,
        answer: serializeSessionDescription({ type: "answer", sdp })
      });
      if (!decodeAnswerResponse(await postText(this.#fetch, url, body, this.#stop.signal))) {
        this.stats.clientsGone++;
        this.#env.log("the broker says the client is gone");
        return;
      }
      relay = this.#dialRelay(relayURL, offer.sdp);
      const open = await this.#deadline(arrival.then(waitOpen), this.#cfg.dataChannelTimeoutMs);
      if (!open) {
        if (!this.#stop.signal.aborted) {
          this.stats.openTimeouts++;
          this.#env.log("timed out waiting for the client to open its data channel");
        }
        return;
      }
      const dialed = relay;
      relay = void 0;
      await this.#relay(open, activity, dialed, relayURL);
    } catch (e) {
      if (!this.#stop.signal.aborted) this.#env.log(`client session: ${errorText(e)}`);
    } finally {
      relay?.then((ws) => ws instanceof Error || ws.close());
      closePeer(pc);
      if (pc) this.#peers.delete(pc);
    }
  }
  /** `p`'s value, or undefined when `ms` pass or the proxy stops first. */
  async #deadline(p, ms) {
    let timer;
    const signal = this.#stop.signal;
    let onAbort = () => {
    };
    const late = new Promise((resolve) => {
      timer = this.#timers.setTimeout(() => resolve(void 0), ms);
      onAbort = () => resolve(void 0);
      signal.addEventListener("abort", onAbort);
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      this.#timers.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }
  /** The relay's WebSocket, with the client's address from its offer; the error if it fails. */
  #dialRelay(relayURL, offerSDP) {
    const url = new URL(relayURL);
    const clientIP = remoteIPFromSDP(offerSDP);
    if (clientIP) url.searchParams.set("client_ip", clientIP);
    return this.#env.dialRelay(url.toString(), this.#stop.signal).catch(
      (e) => new Error(errorText(e))
    );
  }
  async #relay(dc, activity, dialed, relayURL) {
    activity.last = this.#now();
    this.stats.connected();
    this.#env.log("client connected");
    let ws;
    let idleTimer;
    let onStop = () => {
    };
    try {
      const conn = await dialed;
      if (conn instanceof Error) {
        this.stats.relayDialErrors++;
        this.#env.log(`error dialing relay ${relayURL}: ${conn.message}`);
        return;
      }
      ws = conn;
      const inactivity = this.#cfg.inactivityTimeoutMs;
      const idle = new Promise((resolve) => {
        const check = () => {
          const quiet = this.#now() - activity.last;
          if (quiet < inactivity) {
            idleTimer = this.#timers.setTimeout(check, inactivity - quiet);
            return;
          }
          this.stats.inactivityCloses++;
          this.#env.log(`closing a relay after ${goDuration(inactivity)} without traffic`);
          resolve();
        };
        idleTimer = this.#timers.setTimeout(check, inactivity);
      });
      const stopped = new Promise((resolve) => {
        onStop = () => resolve();
        if (this.#stop.signal.aborted) resolve();
        this.#stop.signal.addEventListener("abort", onStop);
      });
      const why = (reason2) => (e) => e instanceof Error ? `${reason2}: ${e.message}` : reason2;
      const free2 = this.#env.freeRelayedChunks ? freeAfterWrite : (w) => w;
      const reason = await Promise.race([
        dc.readable.pipeTo(free2(ws.writable)).then(why("client closed"), why("relay write failed")),
        ws.readable.pipeTo(free2(dc.writable)).then(why("relay closed"), why("client write failed")),
        dc.closed.then(why("data channel closed")),
        idle.then(why("idle")),
        stopped.then(why("stopping"))
      ]);
      this.#env.debug?.(`relay ended: ${reason}`);
    } finally {
      this.#timers.clearTimeout(idleTimer);
      this.#stop.signal.removeEventListener("abort", onStop);
      dc.close();
      ws?.close();
      this.stats.active--;
      this.#env.log("client disconnected");
    }
  }
};
function errorText(e) {
  if (!(e instanceof Error)) return String(e);
  return e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
}
function sessionID() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}
function arrivingConn(pc, options) {
  return new Promise((resolve) => {
    const onChannel = (e) => {
      pc.removeEventListener("datachannel", onChannel);
      const channel = e.channel;
      resolve(dataChannelConn(channel, options));
    };
    pc.addEventListener("datachannel", onChannel);
  });
}
function waitOpen(conn) {
  const channel = conn.channel;
  if (channel.readyState === "open") return Promise.resolve(conn);
  return new Promise((resolve) => {
    const onOpen = () => {
      channel.removeEventListener("open", onOpen);
      resolve(conn);
    };
    channel.addEventListener("open", onOpen);
  });
}

// proxy/web/config.ts
var PAGE_CAPACITY = 1;
var MIN_POLL_INTERVAL_MS = 2e3;
var PAGE_PROXY_TYPE = "badge";
function strings(value, field2) {
  if (value === void 0) return void 0;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new TypeError(`web proxy config: ${field2} must be a list of strings`);
  }
  return value;
}
function pageProxyConfig(settings, pageURL) {
  const s = settings;
  const capacity = s.capacity ?? PAGE_CAPACITY;
  if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0) {
    throw new RangeError(`web proxy config: capacity ${capacity} is not a whole number ≥ 0`);
  }
  const pollIntervalMs = s.pollIntervalMs ?? PROXY_DEFAULTS.pollIntervalMs;
  if (typeof pollIntervalMs !== "number" || !(pollIntervalMs >= MIN_POLL_INTERVAL_MS)) {
    throw new RangeError(`web proxy config: pollIntervalMs ${pollIntervalMs} is below 2000`);
  }
  const pattern = s.relayPattern ?? DEFAULT_RELAY_PATTERN;
  if (typeof pattern !== "string") throw new TypeError("web proxy config: relayPattern");
  checkRelayPattern(pattern);
  const resolve = (field2, fallback) => {
    const v = s[field2] ?? fallback;
    if (typeof v !== "string" || !URL.canParse(v, pageURL)) {
      throw new SyntaxError(`web proxy config: ${field2} ${JSON.stringify(v)} is not a URL`);
    }
    return new URL(v, pageURL).href;
  };
  const bridgeRelays = strings(s.bridgeRelays, "bridgeRelays") ?? [];
  return {
    ...PROXY_DEFAULTS,
    brokerURL: resolve("brokerURL", "../"),
    defaultRelayURL: bridgeRelays[0] ?? PROXY_DEFAULTS.defaultRelayURL,
    stunURLs: strings(s.stunURLs, "stunURLs") ?? [...PROXY_DEFAULTS.stunURLs],
    natProbeURL: resolve("natProbeURL", PROXY_DEFAULTS.natProbeURL),
    keepLocalAddresses: s.keepLocalAddresses === true,
    capacity,
    pollIntervalMs,
    // A page has no log file to summarize into; its counters are on screen.
    summaryIntervalMs: 0,
    proxyType: PAGE_PROXY_TYPE,
    policy: {
      allowedHostPattern: pattern,
      allowPrivateAddresses: false,
      allowNonTLS: false,
      listedRelays: bridgeRelays
    }
  };
}

// lib/net/websocket.ts
var READ_QUEUE_FULL = 4009;
var sleep2 = (ms) => new Promise((r) => setTimeout(r, ms));
var encoder = new TextEncoder();
function webSocketConn(ws, options = {}) {
  const highWater = options.highWaterMark ?? 1 << 20;
  const readHighWater = options.readHighWaterMark ?? 8 << 20;
  const pollMs = options.pollMs ?? 2;
  ws.binaryType = "arraybuffer";
  const addr = new NamedAddr("websocket", ws.url || "websocket");
  let closed = false;
  const opened = new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.OPEN) return resolve();
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("close", () => reject(new ClosedError("websocket")), { once: true });
  });
  opened.catch(() => {
  });
  const close = () => {
    closed = true;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
  };
  let done = false;
  const readable = new ReadableStream({
    start(controller) {
      ws.addEventListener("message", (ev) => {
        if (done) return;
        const d = ev.data;
        const chunk = typeof d === "string" ? encoder.encode(d) : new Uint8Array(d);
        if (chunk.length > controller.desiredSize) {
          done = true;
          controller.error(new RangeError(`websocket read queue over ${readHighWater} bytes`));
          closed = true;
          ws.close(READ_QUEUE_FULL, "read queue full");
          return;
        }
        controller.enqueue(chunk);
      });
      ws.addEventListener("close", (ev) => {
        closed = true;
        if (done) return;
        done = true;
        if (ev.wasClean) controller.close();
        else controller.error(new ClosedError("websocket"));
      }, { once: true });
    },
    cancel() {
      done = true;
      close();
    }
  }, { highWaterMark: readHighWater, size: (chunk) => chunk.byteLength });
  const writable = new WritableStream({
    async write(chunk) {
      await opened;
      if (closed || ws.readyState !== WebSocket.OPEN) throw new ClosedError("websocket");
      ws.send(chunk);
      while (ws.bufferedAmount > highWater) {
        if (ws.readyState !== WebSocket.OPEN) throw new ClosedError("websocket");
        await sleep2(pollMs);
      }
    },
    async close() {
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) await sleep2(pollMs);
      close();
    },
    abort: close
  });
  return {
    socket: ws,
    readable,
    writable,
    localAddr: options.localAddr ?? new NamedAddr("websocket", "local"),
    remoteAddr: options.remoteAddr ?? addr,
    close
  };
}
async function dialWebSocket(url, options = {}) {
  const ws = new WebSocket(url, options.protocols);
  ws.binaryType = "arraybuffer";
  const signal = options.signal;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new TimeoutError(`WebSocket to ${url}`)),
      options.timeoutMs ?? 3e4
    );
    const onAbort = () => fail(signal?.reason ?? new TimeoutError(`WebSocket to ${url}`));
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onClose);
    };
    function fail(e) {
      cleanup();
      try {
        ws.close();
      } catch {
      }
      reject(e);
    }
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onClose = () => fail(new ClosedError(`WebSocket to ${url}`));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onClose);
  });
  return webSocketConn(ws, { ...options, remoteAddr: options.remoteAddr ?? urlAddr(url) });
}
function urlAddr(url) {
  return new NamedAddr("websocket", String(url));
}

// proxy/relay/relay_dial.ts
var encoder2 = new TextEncoder();
async function dialRelay(url, signal, timeoutMs = 1e4, Ctor = globalThis.WebSocketStream) {
  if (!Ctor) return await dialWebSocket(url, { signal, timeoutMs });
  const opening = new AbortController();
  const abort = () => opening.abort(signal.reason);
  const timer = setTimeout(abort, timeoutMs);
  signal.addEventListener("abort", abort, { once: true });
  if (signal.aborted) abort();
  const wss = new Ctor(url, { signal: opening.signal });
  wss.closed.catch(() => {
  });
  let opened;
  try {
    opened = await wss.opened;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", abort);
  }
  const { readable, writable } = opened;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      wss.close();
    } catch {
    }
  };
  return {
    // Cancelling our readable must not cancel the WebSocketStream's: Deno 2.9's `pull` still
    // enqueues the message it was waiting for into the cancelled stream, and that TypeError is
    // uncaught (it ended the proxy when a client left mid-download). close() ends the socket.
    readable: readable.pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          controller.enqueue(
            typeof chunk === "string" ? encoder2.encode(chunk) : new Uint8Array(chunk)
          );
        }
      }),
      { preventCancel: true }
    ),
    writable,
    localAddr: new NamedAddr("websocket", "local"),
    remoteAddr: new NamedAddr("websocket", url),
    close
  };
}

// proxy/web/env.ts
function globalPlatform() {
  return {
    RTCPeerConnection: globalThis.RTCPeerConnection,
    WebSocket: globalThis.WebSocket,
    WebSocketStream: globalThis.WebSocketStream,
    fetch: (input, init) => globalThis.fetch(input, init),
    timers: {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (id) => globalThis.clearTimeout(id)
    }
  };
}
var RELAY_OPEN_TIMEOUT_MS = 1e4;
function pageProxyEnv(platform, brokerURL, hooks) {
  const { timers } = platform;
  const observed = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const mine = url.startsWith(brokerURL);
    try {
      const res = await platform.fetch(input, init);
      if (mine) hooks.brokerReachable?.(res.status === 200);
      return res;
    } catch (e) {
      if (mine && !init?.signal?.aborted) hooks.brokerReachable?.(false);
      throw e;
    }
  };
  return {
    webrtc: {
      newPeerConnection(config) {
        const { portRange: _notInBrowsers, ...standard } = config;
        return new platform.RTCPeerConnection(standard);
      }
    },
    dialRelay: (url, signal) => platform.WebSocketStream ? dialRelay(url, signal, RELAY_OPEN_TIMEOUT_MS, platform.WebSocketStream) : dialBrowserWebSocket(platform, url, signal),
    fetch: observed,
    timers,
    log: hooks.log
  };
}
function dialBrowserWebSocket(platform, url, signal) {
  const { timers } = platform;
  return new Promise((resolve, reject) => {
    const ws = new platform.WebSocket(url);
    ws.binaryType = "arraybuffer";
    const done = (error) => {
      timers.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onClose);
      if (!error) return resolve(webSocketConn(ws));
      try {
        ws.close();
      } catch {
      }
      reject(error);
    };
    const onOpen = () => done();
    const onClose = () => done(new Error("relay WebSocket closed before it opened"));
    const onAbort = () => done(new Error("stopped"));
    const timer = timers.setTimeout(
      () => done(new Error("relay WebSocket did not open in time")),
      RELAY_OPEN_TIMEOUT_MS
    );
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onClose);
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
  });
}
var GATHER_CHECK_MS = 5e3;
async function webrtcGathers(webrtc, stunURLs, timers) {
  let pc;
  try {
    pc = webrtc.newPeerConnection({ iceServers: stunURLs.length ? [{ urls: stunURLs }] : [] });
    pc.createDataChannel("check");
    const offer = await gatherLocalDescription(pc, await pc.createOffer(), GATHER_CHECK_MS, timers);
    return /^a=candidate:/m.test(offer.sdp);
  } catch {
    return false;
  } finally {
    closePeer(pc);
  }
}

// proxy/web/page.ts
var ENABLED_KEY = "snowflake-web-proxy-enabled";
var CONSENT_KEY = "snowflake-web-proxy-consent";
var TOTALS_KEY = "snowflake-web-proxy-totals";
var RENDER_MS = 500;
var STATES = {
  loading: "Loading…",
  off: "Off. Turn the switch on to help censored users reach Tor.",
  consent: "Waiting for your consent…",
  starting: "Starting: checking how reachable your browser is…",
  polling: "On: waiting for a censored user to connect.",
  relaying: "On: relaying for a censored user right now.",
  "broker-down": "Cannot reach the Snowflake broker. Retrying…",
  "no-webrtc": "WebRTC is blocked or unsupported in this browser, so it cannot be a proxy."
};
var $ = (id) => document.getElementById(id);
var status = $("status");
var toggle = $("toggle");
var consent = $("consent");
var proxy = null;
var running = Promise.resolve();
var brokerDown = false;
var webrtcBlocked = false;
var past = loadTotals();
function loadTotals() {
  try {
    const t = JSON.parse(localStorage.getItem(TOTALS_KEY) ?? "{}");
    const n = (v) => Number.isSafeInteger(v) && v >= 0 ? v : 0;
    return { connections: n(t.connections), bytes: n(t.bytes) };
  } catch {
    return { connections: 0, bytes: 0 };
  }
}
function setState(state) {
  status.dataset.state = state;
  status.textContent = STATES[state];
}
function formatBytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1e3 && i < units.length - 1) {
    v /= 1e3;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
function setCounter(id, value, text = String(value)) {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text;
}
function render() {
  const s = proxy?.stats;
  const bytes = past.bytes + (s ? s.bytesFromClients + s.bytesToClients : 0);
  const connections = past.connections + (s?.connections ?? 0);
  localStorage.setItem(TOTALS_KEY, JSON.stringify({ connections, bytes }));
  setCounter("clients", connections);
  setCounter("active", s?.active ?? 0);
  setCounter("bytes", bytes, formatBytes(bytes));
  $("nat").textContent = proxy?.natType ?? $("nat").textContent;
  if (webrtcBlocked) return setState("no-webrtc");
  if (!proxy) return;
  if (brokerDown) setState("broker-down");
  else if (s.active > 0) setState("relaying");
  else if (s.polls > 0) setState("polling");
  else setState("starting");
}
function hasWebRTC() {
  if (typeof RTCPeerConnection !== "function") return false;
  try {
    new RTCPeerConnection().close();
    return true;
  } catch {
    return false;
  }
}
async function start(settings) {
  if (proxy) return;
  const config = pageProxyConfig(settings, location.href);
  brokerDown = false;
  const env = pageProxyEnv(globalPlatform(), config.brokerURL, {
    log: (m) => console.log(`snowflake: ${m}`),
    brokerReachable: (ok) => brokerDown = !ok
  });
  setState("starting");
  webrtcBlocked = !await webrtcGathers(env.webrtc, config.stunURLs, env.timers);
  if (webrtcBlocked || !toggle.checked || proxy) return render();
  const p = new SnowflakeProxy(config, env);
  proxy = p;
  running = p.run().catch((e) => console.error("snowflake proxy:", e));
  render();
}
async function stop() {
  webrtcBlocked = false;
  const p = proxy;
  if (!p) return setState("off");
  p.stop();
  await running;
  past.connections += p.stats.connections;
  past.bytes += p.stats.bytesFromClients + p.stats.bytesToClients;
  proxy = null;
  render();
  setState("off");
}
function askConsent() {
  if (localStorage.getItem(CONSENT_KEY) === "yes") return Promise.resolve(true);
  setState("consent");
  consent.showModal();
  return new Promise((resolve) => {
    consent.addEventListener("close", () => {
      const yes = consent.returnValue === "yes";
      if (yes) localStorage.setItem(CONSENT_KEY, "yes");
      resolve(yes);
    }, { once: true });
  });
}
async function loadSettings() {
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (res.status !== 200) return null;
    const settings = await res.json();
    pageProxyConfig(settings, location.href);
    return settings;
  } catch (e) {
    console.error("snowflake: unusable config.json:", e);
    return null;
  }
}
async function main() {
  if (!hasWebRTC()) {
    setState("no-webrtc");
    return;
  }
  const settings = await loadSettings();
  if (!settings) {
    setState("broker-down");
    return;
  }
  toggle.disabled = false;
  toggle.addEventListener("change", async () => {
    if (!toggle.checked) {
      localStorage.setItem(ENABLED_KEY, "off");
      await stop();
      return;
    }
    toggle.disabled = true;
    const yes = await askConsent();
    toggle.disabled = false;
    if (!yes || !toggle.checked) {
      toggle.checked = false;
      setState("off");
      return;
    }
    localStorage.setItem(ENABLED_KEY, "on");
    await start(settings);
  });
  addEventListener("pagehide", () => proxy?.stop());
  render();
  setInterval(render, RENDER_MS);
  const enabled = localStorage.getItem(ENABLED_KEY) === "on" && localStorage.getItem(CONSENT_KEY) === "yes";
  toggle.checked = enabled;
  if (enabled) await start(settings);
  else setState("off");
}
main();
