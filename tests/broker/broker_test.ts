// The broker binary over real HTTP on loopback: rendezvous, matching rules, limits, endpoints.
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import {
  decodeArmor,
  decodeClientPollResponse,
  decodeProxyPollResponse,
  DEFAULT_BRIDGE_FINGERPRINT,
  encodeAmpPath,
  encodeAnswerRequest,
  encodeClientPollRequest,
  encodeProxyPollRequest,
  type NatType,
} from "../../lib/snowflake/mod.ts";
import { type BrokerProcess, fakeSdp, post, spawnBroker } from "./spawn.ts";

const BRIDGE_FP = "8838024498816A039FCBBAB14E6F40A0843051FA";
const RELAY = "wss://relay.snowflake.example/";

async function withBroker(
  args: string[],
  fn: (b: BrokerProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "broker-test-" });
  const list = `${dir}/bridges.jsonl`;
  await Deno.writeTextFile(
    list,
    [BRIDGE_FP, DEFAULT_BRIDGE_FINGERPRINT].map((fingerprint) =>
      JSON.stringify({ displayName: "test", webSocketAddress: RELAY, fingerprint }) + "\n"
    ).join(""),
  );
  const b = await spawnBroker([
    "--bridge-list-path",
    list,
    "--allowed-relay-pattern",
    "snowflake.example$",
    "--unsafe-logging",
    ...args,
  ]);
  try {
    await fn(b);
  } finally {
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts a proxy poll; resolves with the decoded poll response. */
function proxyPoll(
  b: BrokerProcess,
  sid: string,
  nat: NatType,
  clients = 0,
  pattern = "snowflake.example$",
) {
  return post(
    b.url + "proxy",
    encodeProxyPollRequest({
      sid,
      type: "standalone",
      nat,
      clients,
      acceptedRelayPattern: pattern,
    }),
  ).then((r) => {
    assertEquals(r.status, 200);
    return decodeProxyPollResponse(r.text);
  });
}

function clientPoll(b: BrokerProcess, tag: string, nat: NatType) {
  return post(
    b.url + "client",
    encodeClientPollRequest({ offer: fakeSdp("offer", tag), nat, fingerprint: BRIDGE_FP }),
  ).then((r) => {
    assertEquals(r.status, 200);
    assertEquals(r.headers.get("access-control-allow-origin"), "*");
    return decodeClientPollResponse(r.text);
  });
}

/** Waits until the broker's /debug shows `n` waiting proxies. */
async function waitingProxies(b: BrokerProcess, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const text = await (await fetch(b.url + "debug")).text();
    if (text.startsWith(`current snowflakes available: ${n}\n`)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never saw ${n} waiting proxies`);
}

/** A proxy that answers the offer it gets; resolves with what it was given. */
async function answeringProxy(b: BrokerProcess, sid: string, nat: NatType, clients = 0) {
  const resp = await proxyPoll(b, sid, nat, clients);
  if (resp.status === "client match") {
    const r = await post(
      b.url + "answer",
      encodeAnswerRequest({ sid, answer: fakeSdp("answer", sid) }),
    );
    assertEquals(JSON.parse(r.text), { Status: "success" });
  }
  return resp;
}

Deno.test("broker: a client's offer reaches a waiting proxy and the proxy's answer the client", async () => {
  await withBroker([], async (b) => {
    const proxy = answeringProxy(b, "sid-a", "unrestricted");
    await waitingProxies(b, 1);
    const resp = await clientPoll(b, "c1", "restricted");
    const given = await proxy;
    assertEquals(given.status, "client match");
    assertEquals(given.offer, fakeSdp("offer", "c1"));
    assertEquals(given.nat, "restricted");
    assertEquals(given.relayURL, RELAY);
    assert(given.nextPoll !== undefined && given.nextPoll >= 5000);
    assertEquals(resp, { answer: fakeSdp("answer", "sid-a") });
  });
});

Deno.test("broker: NAT matching — unrestricted clients prefer restricted proxies, others need unrestricted", async () => {
  await withBroker([], async (b) => {
    // An unrestricted client takes the restricted proxy although an unrestricted one waits.
    const r = answeringProxy(b, "restricted-1", "restricted");
    const u = answeringProxy(b, "unrestricted-1", "unrestricted");
    await waitingProxies(b, 2);
    assertEquals(await clientPoll(b, "c-u", "unrestricted"), {
      answer: fakeSdp("answer", "restricted-1"),
    });
    assertEquals((await r).status, "client match");
    // With only an unrestricted proxy left, an unrestricted client falls back to it.
    assertEquals(await clientPoll(b, "c-u2", "unrestricted"), {
      answer: fakeSdp("answer", "unrestricted-1"),
    });
    assertEquals((await u).status, "client match");
    // Restricted and unknown clients are never given restricted or unknown proxies.
    const r2 = proxyPoll(b, "restricted-2", "restricted");
    const k2 = proxyPoll(b, "unknown-2", "unknown");
    await waitingProxies(b, 2);
    for (const nat of ["restricted", "unknown"] as const) {
      assertEquals(await clientPoll(b, `c-${nat}`, nat), {
        error: "no snowflake proxies currently available",
      });
    }
    // ...but an unrestricted client is, and an unknown proxy counts as restricted.
    const both = await Promise.all([
      clientPoll(b, "x1", "unrestricted"),
      clientPoll(b, "x2", "unrestricted"),
    ]);
    assertEquals(both.map((x) => x.error), [
      "timed out waiting for answer!",
      "timed out waiting for answer!",
    ]);
    assertEquals([(await r2).status, (await k2).status], ["client match", "client match"]);
  });
});

Deno.test("broker: the least loaded proxy is matched first", async () => {
  await withBroker(["--client-timeout", "1s"], async (b) => {
    const busy = proxyPoll(b, "busy", "unrestricted", 16);
    const idle = proxyPoll(b, "idle", "unrestricted", 0);
    const mid = proxyPoll(b, "mid", "unrestricted", 8);
    await waitingProxies(b, 3);
    const order: string[] = [];
    for (const [name, p] of [["busy", busy], ["idle", idle], ["mid", mid]] as const) {
      p.then((resp) =>
        resp.offer && order.push(`${name}:${JSON.parse(resp.offer).sdp.split(" ")[1]}`)
      );
    }
    for (const tag of ["c1", "c2", "c3"]) {
      await clientPoll(b, tag, "restricted");
    }
    await Promise.all([busy, idle, mid]);
    assertEquals(order, ["idle:c1", "mid:c2", "busy:c3"]);
  });
});

Deno.test("broker: timeouts, no proxies, unknown bridges and bad polls get Go's replies", async () => {
  await withBroker(["--client-timeout", "1s", "--proxy-timeout", "1s"], async (b) => {
    assertEquals(await clientPoll(b, "c", "unknown"), {
      error: "no snowflake proxies currently available",
    });
    const t0 = Date.now();
    const idle = await proxyPoll(b, "lonely", "unrestricted");
    assertEquals([idle.status, idle.offer], ["no match", ""]);
    assert(Date.now() - t0 >= 900, "the poll was held for the proxy timeout");
    assert(idle.nextPoll !== undefined);
    const p = proxyPoll(b, "silent", "unrestricted");
    await waitingProxies(b, 1);
    assertEquals(await clientPoll(b, "c", "unknown"), { error: "timed out waiting for answer!" });
    await p;
    // The answer after the client gave up: "client gone".
    const late = await post(
      b.url + "answer",
      encodeAnswerRequest({ sid: "silent", answer: fakeSdp("answer", "x") }),
    );
    assertEquals(JSON.parse(late.text), { Status: "client gone" });
    const unknownBridge = await post(
      b.url + "client",
      encodeClientPollRequest({ offer: fakeSdp("offer", "c"), fingerprint: "A".repeat(40) }),
    );
    assertEquals(JSON.parse(unknownBridge.text), {
      error: "bridge with requested fingerprint is unknown to the broker",
    });
    assertEquals(JSON.parse((await post(b.url + "client", "2.0\n{}")).text), {
      error: "unsupported message version",
    });
    assertEquals((await post(b.url + "proxy", "{}")).status, 400);
    // An answer without a candidate is refused.
    const noCandidate = await post(
      b.url + "answer",
      encodeAnswerRequest({ sid: "silent", answer: "{}" }),
    );
    assertEquals(noCandidate.status, 400);
    // Bodies over 100000 bytes are refused.
    const big = await post(b.url + "client", "1.0\n" + "x".repeat(100_001));
    assertEquals(big.status, 400);
  });
});

Deno.test("broker: proxies whose relay pattern does not cover the broker's are refused", async () => {
  await withBroker([], async (b) => {
    const narrow = await proxyPoll(b, "p", "unrestricted", 0, "^other.example$");
    assertEquals(narrow.status, "incorrect relay pattern");
    const exact = await proxyPoll(b, "p", "unrestricted", 0, "^relay.snowflake.example$");
    assertEquals(exact.status, "incorrect relay pattern");
    // A client may name its relay URL if it matches the broker's pattern.
    const proxy = answeringProxy(b, "p2", "unrestricted");
    await waitingProxies(b, 1);
    const bad = await post(
      b.url + "client",
      encodeClientPollRequest({ offer: fakeSdp("offer", "c"), relayURL: "wss://evil.example/" }),
    );
    assert(JSON.parse(bad.text).error.startsWith("Unacceptable relayURL"));
    const good = await post(
      b.url + "client",
      encodeClientPollRequest({
        offer: fakeSdp("offer", "c"),
        relayURL: "wss://x.snowflake.example/",
      }),
    );
    assertEquals(JSON.parse(good.text).answer, fakeSdp("answer", "p2"));
    assertEquals((await proxy).relayURL, "wss://x.snowflake.example/");
  });
});

Deno.test("broker: legacy bare offers get the raw answer, 503 or 504", async () => {
  await withBroker(["--client-timeout", "1s"], async (b) => {
    assertEquals((await post(b.url + "client", fakeSdp("offer", "l"))).status, 503);
    const silent = proxyPoll(b, "silent", "unrestricted");
    await waitingProxies(b, 1);
    assertEquals((await post(b.url + "client", fakeSdp("offer", "l"))).status, 504);
    await silent;
    const proxy = answeringProxy(b, "p", "restricted");
    await waitingProxies(b, 1);
    const r = await post(b.url + "client", fakeSdp("offer", "l"), {
      "Snowflake-NAT-Type": "unrestricted",
    });
    assertEquals([r.status, r.text], [200, fakeSdp("answer", "p")]);
    assertEquals((await proxy).nat, "unrestricted");
  });
});

Deno.test("amp: a poll through /amp/client/ decodes to the same answer as through /client", async () => {
  await withBroker([], async (b) => {
    const viaClient = (async () => {
      const proxy = answeringProxy(b, "p1", "unrestricted");
      await waitingProxies(b, 1);
      const r = await clientPoll(b, "same-offer", "unknown");
      return { r, given: await proxy };
    })();
    const { r: direct, given: g1 } = await viaClient;
    const proxy = answeringProxy(b, "p1", "unrestricted");
    await waitingProxies(b, 1);
    const poll = encodeClientPollRequest({
      offer: fakeSdp("offer", "same-offer"),
      nat: "unknown",
      fingerprint: BRIDGE_FP,
    });
    const res = await fetch(b.url + "amp/client/" + encodeAmpPath(new TextEncoder().encode(poll)));
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/html");
    const html = await res.text();
    assert(html.startsWith("<!doctype html>\n<html amp>"));
    const viaAmp = decodeClientPollResponse(new TextDecoder().decode(decodeArmor(html)));
    assertEquals(viaAmp, direct);
    assertEquals((await proxy).offer, g1.offer);
    // An undecodable path is an armored error, not an HTTP error.
    const bad = await (await fetch(b.url + "amp/client/1xyz")).text();
    assertEquals(JSON.parse(new TextDecoder().decode(decodeArmor(bad))), {
      error: "cannot decode URL path",
    });
  });
});

Deno.test("broker: CORS preflight, robots.txt, debug, metrics and prometheus", async () => {
  await withBroker([], async (b) => {
    const pre = await fetch(b.url + "client", { method: "OPTIONS" });
    await pre.body?.cancel();
    assertEquals(pre.status, 200);
    assertEquals(pre.headers.get("access-control-allow-origin"), "*");
    assertEquals(pre.headers.get("access-control-allow-headers"), "Origin, X-Session-ID");
    const robots = await fetch(b.url + "robots.txt");
    assertEquals(await robots.text(), "User-agent: *\nDisallow: /\n");
    assertEquals(robots.headers.get("content-type"), "text/plain; charset=utf-8");
    const p = answeringProxy(b, "m", "restricted");
    await waitingProxies(b, 1);
    const debug = await (await fetch(b.url + "debug")).text();
    assertEquals(
      debug,
      "current snowflakes available: 1\n\tstandalone proxies: 1\n\tunknown proxies: 0\nNAT Types available:" +
        "\n\trestricted: 1\n\tunrestricted: 0\n\tunknown: 0",
    );
    const prom = await (await fetch(b.url + "prometheus")).text();
    assert(
      prom.includes('snowflake_available_proxies{nat="restricted",type="standalone"} 1'),
      prom,
    );
    await clientPoll(b, "c", "unrestricted");
    await p;
    const metrics = await (await fetch(b.url + "metrics")).text();
    assert(metrics.includes("\nclient-snowflake-match-count 8\n"), metrics);
    assert(metrics.includes("\nclient-http-count 8\n"), metrics);
    assert(metrics.includes("\nsnowflake-ips-standalone 1\n"), metrics);
    assertEquals((await fetch(b.url + "nothing")).status, 404);
    // Logs are scrubbed unless --unsafe-logging (these run with it); never a crash line.
    assert(!/error|uncaught/i.test(b.log()), b.log());
  });
});

Deno.test("broker: a proxy that hangs up leaves at once, and the metrics log is written per interval", async () => {
  const dir = await Deno.makeTempDir({ prefix: "broker-metrics-" });
  try {
    await withBroker(
      ["--metrics-log", `${dir}/metrics.log`, "--metrics-interval", "1s"],
      async (b) => {
        const abort = new AbortController();
        const poll = fetch(b.url + "proxy", {
          method: "POST",
          body: encodeProxyPollRequest({
            sid: "leaver",
            type: "standalone",
            nat: "unrestricted",
            clients: 0,
          }),
          signal: abort.signal,
        }).catch(() => null);
        await waitingProxies(b, 1);
        abort.abort();
        await poll;
        // Long before the 10 s poll timeout, no proxy is left to match.
        await waitingProxies(b, 0);
        assertEquals(await clientPoll(b, "late", "unknown"), {
          error: "no snowflake proxies currently available",
        });
        for (
          let i = 0;
          i < 100 &&
          !(await Deno.readTextFile(`${dir}/metrics.log`).catch(() => "")).includes(
            "client-denied-count 8",
          );
          i++
        ) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const log = await Deno.readTextFile(`${dir}/metrics.log`);
        assert(/^snowflake-stats-end \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s\)$/m.test(log), log);
        assert(log.includes("client-denied-count 8"), log);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
