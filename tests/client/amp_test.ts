/**
 * `amp:` AMP cache rendezvous through a local fixture shaped like the AMP cache: it serves
 * only `https://<prefix>.<cache>/c/s/<publisher host>/<path>` (checked against the Host the
 * client sent through its front), hands the publisher path to the broker's `/amp/client/`
 * decoding (lib/snowflake/amp.ts), and returns the broker's reply in AMP HTML armor.
 */
import { assertEquals, assertRejects } from "../../lib/testing/assert.ts";
import { decodeAmpPath, encodeArmor } from "../../lib/snowflake/amp.ts";
import {
  decodeClientPollRequest,
  encodeClientPollResponse,
  ERR_NO_PROXIES,
} from "../../lib/snowflake/messages.ts";
import { BrokerChannel, BrokerError } from "../../lib/snowflake/rendezvous.ts";
import { AmpCacheRendezvous } from "../../lib/snowflake/rendezvous_amp.ts";
import { makeCert, startTlsFront } from "./tls_front.ts";

const cert = await makeCert(["localhost"]);

/** The AMP cache fixture: what a broker's /amp/client/ returns, armored, or 404. */
function ampCache(brokerReply: (poll: string) => string) {
  return (req: Request): Response => {
    const m = /^\/c\/s\/broker\.example\/amp\/client\/(.+)$/.exec(new URL(req.url).pathname);
    if (req.method !== "GET" || !m) return new Response("not found", { status: 404 });
    const poll = new TextDecoder().decode(decodeAmpPath(m[1]!));
    const html = `<!doctype html><html amp><head></head><body>${
      encodeArmor(new TextEncoder().encode(brokerReply(poll)))
    }</body></html>`;
    return new Response(html, { headers: { "content-type": "text/html" } });
  };
}

Deno.test("amp: a poll reaches the broker through the cache's URL scheme and armor", async () => {
  const polls: string[] = [];
  const front = await startTlsFront(
    cert,
    ampCache((poll) => {
      polls.push(poll);
      return encodeClientPollResponse({ error: ERR_NO_PROXIES });
    }),
  );
  try {
    const amp = new AmpCacheRendezvous(
      "https://broker.example/",
      `https://localhost:${front.port}/`,
      {
        fronts: ["localhost"],
        ca: [cert.caPem],
      },
    );
    const broker = new BrokerChannel(amp, "2B280B23E1107BB62ABFC40DDCC8824814F80A72");
    const offer = {
      type: "offer" as const,
      sdp: "v=0\r\na=candidate:1 1 udp 1 198.51.100.7 5 typ host\r\n",
    };
    await assertRejects(() => broker.negotiate(offer), BrokerError, ERR_NO_PROXIES);
    const req = decodeClientPollRequest(polls[0]!);
    assertEquals(JSON.parse(req.offer), offer);
    assertEquals(req.nat, "unrestricted"); // NAT unknown: the policy claims unrestricted
    const rec = front.records[0]!;
    assertEquals(rec.sni, "localhost");
    assertEquals(rec.host, `broker-example.localhost:${front.port}`);
    console.log(`cache saw SNI ${rec.sni}, Host ${rec.host}, path ${rec.path.slice(0, 50)}…`);
  } finally {
    await front.close();
  }
});

Deno.test("amp: an answer comes back through the armor", async () => {
  const answer = JSON.stringify({ type: "answer", sdp: "v=0\r\n" + "a=x\r\n".repeat(400) });
  const front = await startTlsFront(cert, ampCache(() => encodeClientPollResponse({ answer })));
  try {
    const amp = new AmpCacheRendezvous(
      "https://broker.example/",
      `https://localhost:${front.port}/`,
      {
        fronts: ["localhost"],
        ca: [cert.caPem],
      },
    );
    const got = await new BrokerChannel(amp).negotiate({ type: "offer", sdp: "v=0\r\n" });
    assertEquals(JSON.stringify(got.answer), answer);
  } finally {
    await front.close();
  }
});

Deno.test("amp: a cache error page is an error, not an answer", async () => {
  const front = await startTlsFront(cert, () => new Response("gone", { status: 404 }));
  try {
    const amp = new AmpCacheRendezvous(
      "https://broker.example/",
      `https://localhost:${front.port}/`,
      {
        fronts: ["localhost"],
        ca: [cert.caPem],
      },
    );
    await assertRejects(() => amp.exchange(new Uint8Array([1])), Error, "HTTP 404");
  } finally {
    await front.close();
  }
});
