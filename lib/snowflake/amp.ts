/**
 * AMP cache rendezvous encodings (docs/BROKER.md, "AMP cache"): the client puts its poll
 * in the URL path of a GET, the broker answers with an AMP HTML page whose `<pre>` elements
 * carry the reply in base64 ("armor"). For the cache host rewriting see amp_cache.ts.
 *
 * @module
 */

// The armor layout, as Go writes it: an element holds at most 32 KiB (the AMP cache limit),
// split into 32-byte chunks on lines of their own.
const ELEMENT_SIZE_LIMIT = 32 * 1024;
const BYTES_PER_CHUNK = 32;
const CHUNKS_PER_ELEMENT = Math.floor((ELEMENT_SIZE_LIMIT - 1) / (BYTES_PER_CHUNK + 1));

const BOILERPLATE_START = `<!doctype html>
<html amp>
<head>
<meta charset="utf-8">
<script async src="https://cdn.ampproject.org/v0.js"></script>
<link rel="canonical" href="#">
<meta name="viewport" content="width=device-width">
<style amp-boilerplate>body{-webkit-animation:-amp-start 8s steps(1,end) 0s 1 normal both;` +
  `-moz-animation:-amp-start 8s steps(1,end) 0s 1 normal both;-ms-animation:-amp-start 8s ` +
  `steps(1,end) 0s 1 normal both;animation:-amp-start 8s steps(1,end) 0s 1 normal both}` +
  `@-webkit-keyframes -amp-start{from{visibility:hidden}to{visibility:visible}}@-moz-keyframes ` +
  `-amp-start{from{visibility:hidden}to{visibility:visible}}@-ms-keyframes -amp-start{from{` +
  `visibility:hidden}to{visibility:visible}}@-o-keyframes -amp-start{from{visibility:hidden}to{` +
  `visibility:visible}}@keyframes -amp-start{from{visibility:hidden}to{visibility:visible}}` +
  `</style><noscript><style amp-boilerplate>body{-webkit-animation:none;-moz-animation:none;` +
  `-ms-animation:none;animation:none}</style></noscript>
</head>
<body>
`;
const BOILERPLATE_END = `</body>
</html>`;

/** The armor's format indicator: version 0 is standard base64. */
const ARMOR_VERSION = "0";

/** The MIME type of an armored reply. */
export const AMP_CONTENT_TYPE = "text/html";

/**
 * Wraps `data` in an AMP page: `0` + standard base64, in 32-character lines, at most 992
 * lines per `<pre>` element. The output is byte-identical to Go's armor encoder.
 */
export function encodeArmor(data: Uint8Array): string {
  const text = ARMOR_VERSION + data.toBase64();
  const out: string[] = [BOILERPLATE_START];
  let chunks = 0;
  let off = 0;
  for (; off < text.length; off += BYTES_PER_CHUNK) {
    if (chunks === 0) out.push("<pre>\n");
    out.push(text.slice(off, off + BYTES_PER_CHUNK));
    if (off + BYTES_PER_CHUNK > text.length) break; // a partial last chunk
    out.push("\n");
    if (++chunks === CHUNKS_PER_ELEMENT) {
      out.push("</pre>\n");
      chunks = 0;
    }
  }
  if (off < text.length) out.push("\n</pre>\n");
  else if (chunks !== 0) out.push("</pre>\n");
  out.push(BOILERPLATE_END);
  return out.join("");
}

// Elements whose content an HTML tokenizer reads as raw text (no tags inside).
const RAW_TEXT = new Set([
  "iframe",
  "noembed",
  "noframes",
  "noscript",
  "plaintext",
  "script",
  "style",
  "textarea",
  "title",
  "xmp",
]);

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescapeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (m, name: string) => {
    if (name[0] !== "#") return ENTITIES[name] ?? m;
    const code = name[1] === "x" || name[1] === "X"
      ? parseInt(name.slice(2), 16)
      : parseInt(name.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "\ufffd";
  });
}

/** End of the tag that starts at `from` (index after its `>`), honouring quoted values. */
function tagEnd(html: string, from: number): number {
  let quote = "";
  for (let i = from; i < html.length; i++) {
    const c = html[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") return i + 1;
  }
  return html.length;
}

/**
 * The text inside every `<pre>` element of `html`, in order, with ASCII whitespace removed.
 * Throws SyntaxError for a nested or unclosed `<pre>`.
 */
function preText(html: string): string {
  const parts: string[] = [];
  let active = false;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf("<", i);
    const textEnd = lt < 0 ? html.length : lt;
    if (active && textEnd > i) {
      parts.push(unescapeEntities(html.slice(i, textEnd)).replace(/[\t\n\f\r ]+/g, ""));
    }
    if (lt < 0) break;
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][^\t\n\f\r />]*)/.exec(html.slice(lt, lt + 64));
    if (!m) {
      if (html[lt + 1] === "!" || html[lt + 1] === "?" || html[lt + 1] === "/") {
        i = tagEnd(html, lt + 1); // a bogus comment or an empty end tag
      } else {
        if (active) parts.push("<");
        i = lt + 1;
      }
      continue;
    }
    const closing = m[1] === "/";
    const name = m[2]!.toLowerCase();
    i = tagEnd(html, lt + m[0].length);
    if (name === "pre") {
      if (closing !== active) throw new SyntaxError(`unexpected <${m[1]}pre> in AMP armor`);
      active = !closing;
    } else if (!closing && RAW_TEXT.has(name)) {
      const close = html.toLowerCase().indexOf(`</${name}`, i);
      i = close < 0 ? html.length : close;
    }
  }
  if (active) throw new SyntaxError("missing </pre> tag in AMP armor");
  return parts.join("");
}

/**
 * Reads the data out of an AMP armored page (what Go's armor decoder accepts: text outside
 * `<pre>` ignored, any ASCII whitespace inside, base64 spread across several elements).
 * SyntaxError when there is no version indicator, an unknown one, or bad base64.
 */
export function decodeArmor(html: string): Uint8Array<ArrayBuffer> {
  const text = preText(html);
  if (text === "") throw new SyntaxError("AMP armor has no version indicator");
  if (text[0] !== ARMOR_VERSION) {
    throw new SyntaxError(`unknown armor version indicator ${JSON.stringify(text[0])}`);
  }
  const b64 = text.slice(1);
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw new SyntaxError("AMP armor holds invalid base64");
  }
  return Uint8Array.fromBase64(b64);
}

/**
 * The URL path component that carries a poll to `/amp/client/`: `0`, a 9-byte random cache
 * breaker and `/` + the data, both base64url without padding.
 */
export function encodeAmpPath(
  data: Uint8Array,
  random: (buf: Uint8Array<ArrayBuffer>) => void = (b) => crypto.getRandomValues(b),
): string {
  const breaker = new Uint8Array(9);
  random(breaker);
  const b64 = (b: Uint8Array) => b.toBase64({ alphabet: "base64url", omitPadding: true });
  return ARMOR_VERSION + b64(breaker) + "/" + b64(data);
}

/**
 * The data in an AMP path (what follows `/amp/client/`): everything after its last `/`.
 * SyntaxError for a missing or unknown format indicator, missing data or bad base64url.
 */
export function decodeAmpPath(path: string): Uint8Array<ArrayBuffer> {
  if (path === "") throw new SyntaxError("missing format indicator");
  if (path[0] !== ARMOR_VERSION) {
    throw new SyntaxError(`unknown format indicator ${JSON.stringify(path[0])}`);
  }
  const slash = path.lastIndexOf("/");
  if (slash < 0) throw new SyntaxError("missing data");
  const b64 = path.slice(slash + 1);
  if (!/^[A-Za-z0-9_-]*$/.test(b64) || b64.length % 4 === 1) {
    throw new SyntaxError("invalid base64url data in AMP path");
  }
  return Uint8Array.fromBase64(b64, { alphabet: "base64url" });
}
