import { assert, assertEquals } from "../testing/assert.ts";
import { randomBytes, randomInt, xorshift32 } from "../testing/fuzz.ts";
import {
  encodeClientArgs,
  SocksError,
  SocksHandshake,
  type SocksRequest,
  splitClientArgs,
} from "./socks.ts";

type Rng = () => number;

const ALPHABET = "ab=;\\,:/.é-_ 0";
function randomString(r: Rng, max: number): string {
  let s = "";
  const n = randomInt(r, max + 1);
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(r, ALPHABET.length)];
  return s;
}

interface Expected {
  version: 4 | 5;
  target: SocksRequest["target"];
  args: [string, string][];
}

/** A random valid handshake as tor would send it, and what it must parse to. */
function validHandshake(r: Rng): { input: Uint8Array; expected: Expected } {
  const args: [string, string][] = [];
  const nargs = randomInt(r, 4);
  for (let i = 0; i < nargs; i++) args.push([randomString(r, 8) || "k", randomString(r, 60)]);
  const encoded = encodeClientArgs(args);
  const port = randomInt(r, 65536);
  const parts: number[] = [];
  let target: SocksRequest["target"];
  const version = randomInt(r, 3) === 0 ? 4 : 5;
  if (version === 4) {
    const userid = new TextEncoder().encode(encoded);
    if (randomInt(r, 2)) {
      target = { kind: "domain", host: "bridge.example", port };
      parts.push(4, 1, port >> 8, port & 0xff, 0, 0, 0, 1, ...userid, 0);
      parts.push(...new TextEncoder().encode(target.host), 0);
    } else {
      const ip = [1 + randomInt(r, 255), randomInt(r, 256), randomInt(r, 256), randomInt(r, 256)];
      target = { kind: "ipv4", host: ip.join("."), port };
      parts.push(4, 1, port >> 8, port & 0xff, ...ip, ...userid, 0);
    }
  } else {
    if (args.length && new TextEncoder().encode(encoded).length <= 510) {
      const { username, password } = splitClientArgs(encoded);
      parts.push(5, 2, 0, 2, 1, username.length, ...username, password.length, ...password);
    } else {
      args.length = 0;
      parts.push(5, 1, 0);
    }
    const ip = [randomInt(r, 256), randomInt(r, 256), randomInt(r, 256), randomInt(r, 256)];
    target = { kind: "ipv4", host: ip.join("."), port };
    parts.push(5, 1, 0, 1, ...ip, port >> 8, port & 0xff);
  }
  return { input: new Uint8Array(parts), expected: { version, target, args } };
}

/**
 * Feeds `input` in random chunks. Returns the request, "incomplete", or the typed error;
 * anything else thrown fails the test.
 */
function feedAll(r: Rng, input: Uint8Array): SocksRequest | "incomplete" | Error {
  const hs = new SocksHandshake();
  let off = 0;
  try {
    while (off < input.length) {
      const n = 1 + randomInt(r, Math.min(64, input.length - off));
      const step = hs.feed(input.subarray(off, off + n));
      off += n;
      for (const o of step.out) assert(o.length > 0 && o.length <= 512, "reply size");
      if (step.request) return step.request;
    }
    return "incomplete";
  } catch (e) {
    if (e instanceof SocksError || e instanceof RangeError) return e;
    throw e;
  }
}

function checkRequest(req: SocksRequest): void {
  assert(req.version === 4 || req.version === 5, "version");
  assert(Number.isInteger(req.target.port) && req.target.port >= 0 && req.target.port < 65536);
  assert(req.target.host.length > 0, "host");
  for (const [k, vs] of req.args) assert(k.length > 0 && vs.length > 0, "args shape");
}

Deno.test("fuzz: 40,000 valid handshakes in random chunks parse to what was sent", () => {
  const r = xorshift32(1);
  for (let i = 0; i < 40_000; i++) {
    const { input, expected } = validHandshake(r);
    const got = feedAll(r, input);
    assert(typeof got === "object" && !(got instanceof Error), `case ${i}: ${got}`);
    assertEquals(got.version, expected.version);
    assertEquals(got.target, expected.target);
    const grouped = new Map<string, string[]>();
    for (const [k, v] of expected.args) grouped.set(k, [...(grouped.get(k) ?? []), v]);
    assertEquals(got.args, grouped, `case ${i}`);
  }
});

Deno.test("fuzz: 40,000 mutated handshakes give a typed error or a valid request", () => {
  const r = xorshift32(2);
  const tally = { ok: 0, error: 0, incomplete: 0 };
  for (let i = 0; i < 40_000; i++) {
    const input = validHandshake(r).input.slice();
    const mutations = 1 + randomInt(r, 4);
    let bytes = input;
    for (let m = 0; m < mutations; m++) {
      const at = randomInt(r, bytes.length);
      switch (randomInt(r, 3)) {
        case 0:
          bytes[at] = randomInt(r, 256);
          break;
        case 1:
          bytes = bytes.subarray(0, at);
          break;
        default: {
          const extra = randomBytes(r, 1 + randomInt(r, 8));
          const b = new Uint8Array(bytes.length + extra.length);
          b.set(bytes.subarray(0, at));
          b.set(extra, at);
          b.set(bytes.subarray(at), at + extra.length);
          bytes = b;
        }
      }
    }
    const got = feedAll(r, bytes);
    if (got === "incomplete") tally.incomplete++;
    else if (got instanceof Error) tally.error++;
    else {
      checkRequest(got);
      tally.ok++;
    }
  }
  assert(tally.ok > 0 && tally.error > 0 && tally.incomplete > 0, JSON.stringify(tally));
});

Deno.test("fuzz: 30,000 random byte strings give a typed error or a valid request", () => {
  const r = xorshift32(3);
  for (let i = 0; i < 30_000; i++) {
    const input = randomBytes(r, 1 + randomInt(r, 300));
    if (randomInt(r, 2)) input[0] = 4 + randomInt(r, 2); // get past the version byte half the time
    const got = feedAll(r, input);
    if (typeof got === "object" && !(got instanceof Error)) checkRequest(got);
  }
});
