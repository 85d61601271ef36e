// Vectors from the Go implementation's common/amp tests.
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { mulberry32 } from "../testing/fuzz.ts";
import { decodeAmpPath, decodeArmor, encodeAmpPath, encodeArmor } from "./amp.ts";
import { ampCacheUrl, domainPrefix, domainPrefixBasic, domainPrefixFallback } from "./amp_cache.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("codec: AMP armor decodes Go's vectors", () => {
  const ok: [string, string][] = [
    ["\n<pre>\n0\n</pre>\n", ""],
    ["\n<pre>\n0aGVsbG8gd29ybGQK\n</pre>\n", "hello world\n"],
    [
      "\n0aGVsbG8gd29ybGQK\nblah blah blah\n<pre>\n0aGVsbG8gd29ybGQK\n</pre>\n0aGVsbG8gd29ybGQK\nblah blah blah\n",
      "hello world\n",
    ],
    [
      "\n<pre>\n0QUJDREV\nGR0hJSkt\nMTU5PUFF\nSU1RVVld\n</pre>\njunk\n<pre>\nYWVowMTI\nzNDU2Nzg\n5Cg\n=\n</pre>\n<pre>\n=\n</pre>\n",
      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n",
    ],
    ["blah <pre>0aGVsb<p>G8gd29</p>ybGQK</pre>", "hello world\n"],
    ["blah <pre>\x200\x09aG\x0aV\x0csb\x0dG8\x20gd29ybGQK</pre>", "hello world\n"],
  ];
  for (const [input, want] of ok) assertEquals(text(decodeArmor(input)), want, input);
  const bad = [
    "\n<pre>\n1aGVsbG8gd29ybGQK\n</pre>\n", // bad version indicator
    "\naGVsbG8gd29ybGQK\nblah blah blah\n", // no <pre>, so no version indicator
    "\naGVsbG8gd29ybGQK\n<pre>   </pre>\naGVsbG8gd29ybGQK<pre></pre>\n", // empty <pre>s
    "blah <!-- <pre>aGVsbG8gd29ybGQK</pre> -->", // inside a comment
    "\n<pre>\n0QUJDREV\nGR0hJSkt\nMTU5PUFF\nSU1RVVld\n</pre>\njunk\n<pre>\nYWVowMTI\nzNDU2Nzg\n5Cg\n=\n</pre>\n", // bad padding
    "blah <pre></pre><pre>0aGVsbG8gd29ybGQK", // missing </pre>
    "blah <pre>0aGVsb<pre>G8gd29</pre>ybGQK</pre>", // nested <pre>
  ];
  for (const input of bad) assertThrows(() => decodeArmor(input), SyntaxError, undefined);
});

Deno.test("codec: AMP armor round-trips around the element size limits", () => {
  const rand = mulberry32(7);
  const lengths: number[] = [];
  for (let i = 0; i < 64; i++) lengths.push(i);
  for (let i = -10; i < 10; i++) lengths.push(32768 + i, 2 * 32768 + i);
  for (const n of lengths) {
    const data = new Uint8Array(n).map(() => Math.floor(rand() * 256));
    assertEquals(decodeArmor(encodeArmor(data)), data, `length ${n}`);
  }
});

Deno.test("codec: AMP armor is laid out as Go lays it out", () => {
  const html = encodeArmor(bytes("hello world\n"));
  assertEquals(
    html.slice(html.indexOf("<body>")),
    "<body>\n<pre>\n0aGVsbG8gd29ybGQK\n</pre>\n</body>\n</html>",
  );
  // 32 zero bytes → 1 + 44 base64 characters: one full line, one partial.
  const two = encodeArmor(new Uint8Array(32));
  assertEquals(
    two.slice(two.indexOf("<pre>")),
    "<pre>\n0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAA=\n</pre>\n</body>\n</html>",
  );
  // 30,000 bytes → 40,001 characters: 992 lines in the first element, the rest in a second.
  const big = encodeArmor(new Uint8Array(30000));
  const elements = big.split("<pre>\n").slice(1).map((e) => e.split("</pre>")[0]!);
  assertEquals(elements.map((e) => e.split("\n").length - 1), [992, 259]);
});

Deno.test("codec: AMP paths decode Go's vectors and round-trip", () => {
  const ok: [string, string][] = [
    ["0/", ""],
    ["0foobar/", ""],
    ["0/YWJj", "abc"],
    ["0///YWJj", "abc"],
    ["0foobar/YWJj", "abc"],
    ["0/foobar/YWJj", "abc"],
  ];
  for (const [path, want] of ok) assertEquals(text(decodeAmpPath(path)), want, path);
  for (
    const [path, msg] of [
      ["", "missing format indicator"],
      ["0", "missing data"],
      ["0foobar", "missing data"],
      ["/0/YWJj", "unknown format indicator"],
    ]
  ) assertThrows(() => decodeAmpPath(path!), SyntaxError, msg);
  for (const data of ["", "\x00", "/", "hello world"]) {
    assertEquals(text(decodeAmpPath(encodeAmpPath(bytes(data)))), data);
  }
  assertEquals(encodeAmpPath(bytes("abc"), (b) => b.fill(0)), "0AAAAAAAAAAAA/YWJj");
});

Deno.test("codec: AMP cache domain prefixes match Go's", () => {
  const basic: [string, string][] = [
    ["", ""],
    ["xn--", ""],
    ["...", "---"],
    ["b\u00fccher.de", "xn--bcher-de-65a"],
    ["B\u00fccher.de", "xn--Bcher-de-65a"],
    ["bu\u0308cher.de", "xn--bucher-de-hkf"],
    ["faß.de", "xn--fa-de-mqa"],
    ["βόλοσ.com", "xn---com-4ld8c2a6a8e"],
    ["a".repeat(63), "a".repeat(63)],
    ["a".repeat(64), "a".repeat(64)],
    ["example.com", "example-com"],
    ["foo.example.com", "foo-example-com"],
    ["foo-example.com", "foo--example-com"],
    ["xn--57hw060o.com", "xn---com-p33b41770a"],
    ["\u26a1\u{1f60a}.com", "xn---com-p33b41770a"],
    ["en-us.example.com", "0-en--us-example-com-0"],
  ];
  for (const [domain, want] of basic) assertEquals(domainPrefixBasic(domain), want, domain);
  assertThrows(() => domainPrefixBasic("xn---"), SyntaxError);
  const fallback: [string, string][] = [
    ["", "4oymiquy7qobjgx36tejs35zeqt24qpemsnzgtfeswmrw6csxbkq"],
    ["example.com", "un42n5xov642kxrxrqiyanhcoupgql5lt4wtbkyt2ijflbwodfdq"],
    [
      "000000000000000000000000000000000000000000000000000000000000.com",
      "stejanx4hsijaoj4secyecy4nvqodk56kw72whwcmvdbtucibf5a",
    ],
    [
      "00000000000000000000000000000000000000000000000000000000000a.com",
      "jdcvbsorpnc3hcjrhst56nfm6ymdpovlawdbm2efyxpvlt4cpbya",
    ],
    [
      "00000000000000000000000000000000000000000000000000000000000\u03bb.com",
      "qhzqeumjkfpcpuic3vqruyjswcr7y7gcm3crqyhhywvn3xrhchfa",
    ],
  ];
  for (const [domain, want] of fallback) assertEquals(domainPrefixFallback(domain), want, domain);
  for (const domain of ["example.com", "\u0314example.com", "a".repeat(63), "a".repeat(64)]) {
    const p = domainPrefix(domain);
    assertEquals(p.includes(".") || p.length > 63, false, domain);
  }
  assertEquals(domainPrefix("a".repeat(64)), domainPrefixFallback("a".repeat(64)));
});

Deno.test("codec: AMP cache URLs are rewritten as Go rewrites them", () => {
  const ok: [string, string, string, string][] = [
    [
      "http://example.com/",
      "https://amp.cache/",
      "c",
      "https://example-com.amp.cache/c/example.com",
    ],
    [
      "http://example.com",
      "https://amp.cache/",
      "c",
      "https://example-com.amp.cache/c/example.com",
    ],
    [
      "https://example.com/",
      "https://amp.cache/",
      "c",
      "https://example-com.amp.cache/c/s/example.com",
    ],
    [
      "http://example.com/",
      "https://amp.cache/",
      "/",
      "https://example-com.amp.cache/%2F/example.com",
    ],
    [
      "http://example.com/my%2Fpath/index.html?a=1#fragment",
      "https://amp.cache/",
      "c",
      "https://example-com.amp.cache/c/example.com/my%2Fpath/index.html?a=1#fragment",
    ],
    [
      "http://example.com",
      "http://cache%2Fuser:cache%40pass@amp.cache:123/with/../../path/..%2f../",
      "c",
      "http://cache%2Fuser:cache%40pass@example-com.amp.cache:123/path/..%2f../c/example.com",
    ],
    [
      "http://example.com:80/",
      "https://amp.cache/",
      "c",
      "https://example-com.amp.cache/c/example.com",
    ],
    [
      "https://example.com:443/",
      "https://amp.cache/",
      "c",
      "https://example-com.amp.cache/c/s/example.com",
    ],
    [
      "http://example.com/",
      "https://amp.cache/?",
      "c",
      "https://example-com.amp.cache/c/example.com",
    ],
    [
      "https://example.com/amp_document.html",
      "https://cdn.ampproject.org/",
      "c",
      "https://example-com.cdn.ampproject.org/c/s/example.com/amp_document.html",
    ],
    [
      "http://example.com/logo.png",
      "https://cdn.ampproject.org/",
      "i",
      "https://example-com.cdn.ampproject.org/i/example.com/logo.png",
    ],
    [
      "https://example.com/g?value=Hello%20World",
      "https://cdn.ampproject.org/",
      "c",
      "https://example-com.cdn.ampproject.org/c/s/example.com/g?value=Hello%20World",
    ],
  ];
  for (const [pub, cache, type, want] of ok) assertEquals(ampCacheUrl(pub, cache, type), want, pub);
  const bad: [string, string, string][] = [
    ["http://example.com/", "https://amp.cache/", ""],
    ["http:///index.html", "https://amp.cache/", "c"],
    ["//example.com/", "https://amp.cache/", "c"],
    ["ftp://example.com/", "https://amp.cache/", "c"],
    ["http://example.com:443/", "https://amp.cache/", "c"],
    ["http://user@example.com/", "https://amp.cache/", "c"],
    ["http://user:pass@example.com/", "https://amp.cache/", "c"],
    ["http://example.com/", "https://amp.cache/?a=1", "c"],
    ["http://example.com/", "https://amp.cache/#fragment", "c"],
  ];
  for (const [pub, cache, type] of bad) {
    assertThrows(() => ampCacheUrl(pub, cache, type), TypeError);
  }
});
