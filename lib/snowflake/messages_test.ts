// Vectors from the Go implementation's common/messages and common/namematcher tests.
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import {
  decodeAnswerRequest,
  decodeAnswerResponse,
  decodeClientPollRequest,
  decodeClientPollResponse,
  decodeProxyPollRequest,
  decodeProxyPollResponse,
  DEFAULT_BRIDGE_FINGERPRINT,
  deserializeSessionDescription,
  encodeAnswerRequest,
  encodeAnswerResponse,
  encodeClientPollRequest,
  encodeClientPollResponse,
  encodeProxyPollRequest,
  encodeProxyPollResponse,
  isLegacyClientBody,
  legacyClientPollRequest,
  MessageError,
  serializeSessionDescription,
} from "./messages.ts";
import { NameMatcher } from "./name_matcher.ts";

Deno.test("codec: proxy poll requests of every 1.x version decode as Go decodes them", () => {
  const cases: [string, string, string, number, string | undefined][] = [
    [`{"Sid":"ymbcCMto7KHNGYlp","Version":"1.0"}`, "unknown", "unknown", 0, undefined],
    [
      `{"Sid":"ymbcCMto7KHNGYlp","Version":"1.1","Type":"standalone"}`,
      "standalone",
      "unknown",
      0,
      undefined,
    ],
    [
      `{"Sid":"ymbcCMto7KHNGYlp","Version":"1.2","Type":"standalone", "NAT":"restricted"}`,
      "standalone",
      "restricted",
      0,
      undefined,
    ],
    [
      `{"Sid":"ymbcCMto7KHNGYlp","Version":"1.2","Type":"standalone", "NAT":"restricted","Clients":24}`,
      "standalone",
      "restricted",
      24,
      undefined,
    ],
    [
      `{"Sid":"ymbcCMto7KHNGYlp","Version":"1.2","Type":"standalone", "NAT":"restricted","Clients":24, "AcceptedRelayPattern":"snowfalke.torproject.org"}`,
      "standalone",
      "restricted",
      24,
      "snowfalke.torproject.org",
    ],
  ];
  for (const [data, type, nat, clients, pattern] of cases) {
    const req = decodeProxyPollRequest(data);
    assertEquals(req.sid, "ymbcCMto7KHNGYlp");
    assertEquals([req.type, req.nat, req.clients, req.acceptedRelayPattern], [
      type,
      nat,
      clients,
      pattern,
    ]);
  }
  assertThrows(() => decodeProxyPollRequest(""), SyntaxError);
  for (
    const bad of [`{"Sid":"ymbcCMto7KHNGYlp"}`, "{}", `{"Version":"1.0"}`, `{"Version":"2.0"}`]
  ) {
    assertThrows(() => decodeProxyPollRequest(bad), MessageError);
  }
  assertThrows(
    () => decodeProxyPollRequest(`{"Sid":"a","Version":"1.3","NAT":"open"}`),
    MessageError,
    "invalid NAT type",
  );
  assertThrows(
    () => decodeProxyPollRequest(`{"Sid":"a","Version":"1.3","Clients":"8"}`),
    TypeError,
  );
});

Deno.test("codec: proxy poll request encodes with Go's field names and order", () => {
  const text = encodeProxyPollRequest({
    sid: "ymbcCMto7KHNGYlp",
    type: "standalone",
    nat: "unknown",
    clients: 16,
    acceptedRelayPattern: "snowflake.torproject.net$",
  });
  assertEquals(
    text,
    `{"Sid":"ymbcCMto7KHNGYlp","Version":"1.3","Type":"standalone","NAT":"unknown",` +
      `"Clients":16,"AcceptedRelayPattern":"snowflake.torproject.net$"}`,
  );
  const back = decodeProxyPollRequest(text);
  assertEquals([back.sid, back.type, back.nat, back.clients], [
    "ymbcCMto7KHNGYlp",
    "standalone",
    "unknown",
    16,
  ]);
  // Go's decoder matches field names ignoring case.
  assertEquals(
    decodeProxyPollRequest(`{"sid":"x","version":"1.3","nat":"restricted"}`).nat,
    "restricted",
  );
});

Deno.test("codec: proxy poll responses decode as Go decodes them", () => {
  const r1 = decodeProxyPollResponse(
    `{"Status":"client match","Offer":"fake offer","NAT":"unknown"}`,
  );
  assertEquals([r1.offer, r1.relayURL], ["fake offer", ""]);
  const r2 = decodeProxyPollResponse(
    `{"Status":"client match","Offer":"fake offer","NAT":"unknown", "RelayURL":"wss://snowflake.torproject.org/proxy"}`,
  );
  assertEquals([r2.offer, r2.relayURL], ["fake offer", "wss://snowflake.torproject.org/proxy"]);
  const r3 = decodeProxyPollResponse(`{"Status":"no match"}`);
  assertEquals([r3.status, r3.offer, r3.nat, r3.nextPoll], ["no match", "", "unknown", undefined]);
  assertThrows(() => decodeProxyPollResponse(`{"Status":"client match"}`), MessageError, "offer");
  assertThrows(() => decodeProxyPollResponse(`{"Test":"test"}`), MessageError);
  assertEquals(decodeProxyPollResponse(`{"Status":"no match","NextPoll":30000}`).nextPoll, 30000);
  assertEquals(
    decodeProxyPollResponse(`{"Status":"incorrect relay pattern"}`).status,
    "incorrect relay pattern",
  );
});

Deno.test("codec: proxy poll responses encode byte for byte as Go's", () => {
  assertEquals(
    encodeProxyPollResponse({ status: "no match" }),
    `{"Status":"no match","Offer":"","NAT":"","RelayURL":""}`,
  );
  const matched = encodeProxyPollResponse({
    status: "client match",
    offer: "fake offer",
    nat: "restricted",
    relayURL: "wss://test/",
  });
  assertEquals(
    matched,
    `{"Status":"client match","Offer":"fake offer","NAT":"restricted","RelayURL":"wss://test/"}`,
  );
  const back = decodeProxyPollResponse(matched);
  assertEquals([back.offer, back.nat, back.relayURL], ["fake offer", "restricted", "wss://test/"]);
  assertEquals(
    encodeProxyPollResponse({ status: "no match", nextPoll: 120000 }),
    `{"Status":"no match","Offer":"","NAT":"","RelayURL":"","NextPoll":120000}`,
  );
});

Deno.test("codec: answer requests and responses", () => {
  assertEquals(decodeAnswerRequest(`{"Version":"1.0","Sid":"test","Answer":"test"}`), {
    version: "1.0",
    sid: "test",
    answer: "test",
  });
  for (
    const bad of [
      `{"type":"offer","sdp":"v=0\\r\\n"}`,
      `{"Version":"1.0","Answer":"test"}`,
      `{"Version":"1.0","Sid":"test"}`,
    ]
  ) assertThrows(() => decodeAnswerRequest(bad), MessageError);
  const enc = encodeAnswerRequest({ sid: "test sid", answer: "test answer" });
  assertEquals(enc, `{"Version":"1.3","Sid":"test sid","Answer":"test answer"}`);
  assertEquals(decodeAnswerRequest(enc).answer, "test answer");

  assertEquals(decodeAnswerResponse(`{"Status":"success"}`), true);
  assertEquals(decodeAnswerResponse(`{"Status":"client gone"}`), false);
  assertThrows(() => decodeAnswerResponse(`{"Test":"test"}`), MessageError);
  assertEquals(encodeAnswerResponse(true), `{"Status":"success"}`);
  assertEquals(encodeAnswerResponse(false), `{"Status":"client gone"}`);
});

Deno.test("codec: client poll requests decode as Go decodes them", () => {
  const fp = DEFAULT_BRIDGE_FINGERPRINT;
  const ok: [string, string, string, string | undefined][] = [
    [`1.0\n{"nat":"unknown","offer":"fake"}`, "unknown", fp, undefined],
    [`1.0\n{"offer":"fake"}`, "unknown", fp, undefined],
    [
      `1.0\n{"nat":"unknown","offer":"fake","fingerprint":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
      "unknown",
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      undefined,
    ],
    [
      `1.0\n{"nat":"unknown","offer":"fake","relayURL":"wss://example.com/test?test=test"}`,
      "unknown",
      "",
      "wss://example.com/test?test=test",
    ],
  ];
  for (const [data, nat, fingerprint, relayURL] of ok) {
    const req = decodeClientPollRequest(data);
    assertEquals([req.offer, req.nat, req.fingerprint, req.relayURL], [
      "fake",
      nat,
      fingerprint,
      relayURL,
    ]);
  }
  for (
    const bad of [
      `{"version":"2.0"}`,
      `1.0\n{"nat":"unknown"}`,
      `1.0\n{"nat":"unknown","offer":"fake","relayURL":"wss://example.com/test?test=test","fingerprint":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
      `1.0\n{"offer":"fake","fingerprint":"123123"}`,
      `1.0\n{"offer":"fake","nat":"cone"}`,
      `2.0\n{"offer":"fake"}`,
    ]
  ) assertThrows(() => decodeClientPollRequest(bad), MessageError);
  assertThrows(() => decodeClientPollRequest(`1.0\n{"offer":`), SyntaxError);
});

Deno.test("codec: client poll requests encode as Go's and round-trip", () => {
  assertEquals(
    encodeClientPollRequest({ offer: "fake", nat: "unknown" }),
    `1.0\n{"offer":"fake","nat":"unknown","fingerprint":"${DEFAULT_BRIDGE_FINGERPRINT}"}`,
  );
  assertEquals(
    encodeClientPollRequest({ offer: "fake", nat: "unknown", relayURL: "wss://example.com/" }),
    `1.0\n{"offer":"fake","nat":"unknown","fingerprint":"","relayURL":"wss://example.com/"}`,
  );
  const back = decodeClientPollRequest(
    encodeClientPollRequest({
      offer: "<&>",
      nat: "restricted",
      fingerprint: "8838024498816A039FCBBAB14E6F40A0843051FA",
    }),
  );
  assertEquals(back, {
    offer: "<&>",
    nat: "restricted",
    fingerprint: "8838024498816A039FCBBAB14E6F40A0843051FA",
  });
  // Go escapes HTML characters in JSON strings.
  assert(encodeClientPollRequest({ offer: "<&>" }).includes(`"\\u003c\\u0026\\u003e"`));
});

Deno.test("codec: legacy bare offers become 1.0 polls with the NAT header", () => {
  const offer = serializeSessionDescription({ type: "offer", sdp: "v=0\r\n" });
  assert(isLegacyClientBody(offer));
  assert(!isLegacyClientBody(encodeClientPollRequest({ offer })));
  const req = decodeClientPollRequest(legacyClientPollRequest(offer, "restricted"));
  assertEquals([req.offer, req.nat, req.fingerprint], [
    offer,
    "restricted",
    DEFAULT_BRIDGE_FINGERPRINT,
  ]);
  assertEquals(decodeClientPollRequest(legacyClientPollRequest(offer, null)).nat, "unknown");
});

Deno.test("codec: client poll responses", () => {
  assertEquals(decodeClientPollResponse(`{"answer":"fake answer"}`), { answer: "fake answer" });
  assertEquals(decodeClientPollResponse(`{"error":"no snowflakes"}`), { error: "no snowflakes" });
  assertThrows(() => decodeClientPollResponse(`{}`), MessageError);
  assertEquals(encodeClientPollResponse({ answer: "fake answer" }), `{"answer":"fake answer"}`);
  assertEquals(encodeClientPollResponse({ error: "failed" }), `{"error":"failed"}`);
});

Deno.test("codec: session descriptions wrap as {type, sdp} JSON", () => {
  const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n";
  const text = serializeSessionDescription({ type: "answer", sdp });
  assertEquals(text, JSON.stringify({ type: "answer", sdp }));
  assertEquals(deserializeSessionDescription(text), { type: "answer", sdp });
  assertThrows(() => deserializeSessionDescription(`{"sdp":"x"}`), TypeError, "type");
  assertThrows(() => deserializeSessionDescription(`{"type":"offer"}`), TypeError, "sdp");
  assertThrows(() => deserializeSessionDescription(`[1]`), TypeError);
});

Deno.test("codec: relay name patterns match and cover as Go's namematcher", () => {
  const members: [string, string, boolean][] = [
    ["", "", true],
    ["^snowflake.torproject.net$", "snowflake.torproject.net", true],
    ["^snowflake.torproject.net$", "faketorproject.net", false],
    ["snowflake.torproject.net$", "faketorproject.net", false],
    ["snowflake.torproject.net$", "snowflake.torproject.net", true],
    ["snowflake.torproject.net$", "imaginary-01-snowflake.torproject.net", true],
    ["snowflake.torproject.net$", "imaginary-aaa-snowflake.torproject.net", true],
    ["snowflake.torproject.net$", "imaginary-aaa-snowflake.faketorproject.net", false],
  ];
  for (const [rule, host, want] of members) {
    assertEquals(new NameMatcher(rule).matches(host), want, `${rule} ∋ ${host}`);
  }
  const covers: [string, string, boolean][] = [
    ["", "", true],
    ["^snowflake.torproject.net$", "^snowflake.torproject.net$", true],
    ["snowflake.torproject.net$", "^snowflake.torproject.net$", true],
    ["snowflake.torproject.net$", "snowflake.torproject.net$", true],
    ["snowflake.torproject.net$", "testing-snowflake.torproject.net$", true],
    ["snowflake.torproject.net$", "^testing-snowflake.torproject.net$", true],
    ["snowflake.torproject.net$", "", false],
  ];
  for (const [rule, other, want] of covers) {
    assertEquals(new NameMatcher(rule).covers(new NameMatcher(other)), want, `${rule} ⊇ ${other}`);
  }
});
