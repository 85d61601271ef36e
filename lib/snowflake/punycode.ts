/**
 * Punycode (RFC 3492) and the no-mapping IDNA label conversion that AMP cache host names
 * need: labels are converted as they are, with no case folding or normalisation.
 *
 * @module
 */

const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 128;
const ACE_PREFIX = "xn--";

function adapt(delta: number, numPoints: number, first: boolean): number {
  delta = first ? Math.floor(delta / DAMP) : delta >> 1;
  delta += Math.floor(delta / numPoints);
  let k = 0;
  while (delta > ((BASE - T_MIN) * T_MAX) >> 1) {
    delta = Math.floor(delta / (BASE - T_MIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - T_MIN + 1) * delta) / (delta + SKEW));
}

function digitChar(d: number): string {
  return String.fromCharCode(d < 26 ? 97 + d : 22 + d);
}

function charDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 22;
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 97;
  return -1;
}

function threshold(k: number, bias: number): number {
  return k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
}

/** Encodes a label's code points as Punycode (without the `xn--` prefix). */
export function punycodeEncode(input: string): string {
  const points = Array.from(input, (c) => c.codePointAt(0)!);
  let out = points.filter((p) => p < 0x80).map((p) => String.fromCharCode(p)).join("");
  const basic = out.length;
  let handled = basic;
  if (basic > 0) out += "-";
  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < points.length) {
    let m = Infinity;
    for (const p of points) if (p >= n && p < m) m = p;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const p of points) {
      if (p < n) delta++;
      if (p !== n) continue;
      let q = delta;
      for (let k = BASE;; k += BASE) {
        const t = threshold(k, bias);
        if (q < t) break;
        out += digitChar(t + ((q - t) % (BASE - t)));
        q = Math.floor((q - t) / (BASE - t));
      }
      out += digitChar(q);
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return out;
}

/** Decodes Punycode (without the `xn--` prefix); SyntaxError when it is invalid. */
export function punycodeDecode(input: string): string {
  const delim = input.lastIndexOf("-");
  if (delim === 0) throw new SyntaxError(`invalid punycode ${JSON.stringify(input)}`);
  const out: number[] = [];
  for (let j = 0; j < Math.max(delim, 0); j++) {
    const c = input.charCodeAt(j);
    if (c >= 0x80) throw new SyntaxError(`invalid punycode ${JSON.stringify(input)}`);
    out.push(c);
  }
  let n = INITIAL_N;
  let i = 0;
  let bias = INITIAL_BIAS;
  for (let pos = delim > 0 ? delim + 1 : 0; pos < input.length;) {
    const oldi = i;
    let w = 1;
    for (let k = BASE;; k += BASE) {
      if (pos >= input.length) throw new SyntaxError(`truncated punycode ${input}`);
      const digit = charDigit(input.charCodeAt(pos++));
      if (digit < 0) throw new SyntaxError(`invalid punycode digit in ${input}`);
      i += digit * w;
      const t = threshold(k, bias);
      if (digit < t) break;
      w *= BASE - t;
      if (i > 0x7fffffff || w > 0x7fffffff) throw new RangeError(`punycode overflow in ${input}`);
    }
    bias = adapt(i - oldi, out.length + 1, oldi === 0);
    n += Math.floor(i / (out.length + 1));
    i %= out.length + 1;
    if (n > 0x10ffff) throw new RangeError(`punycode overflow in ${input}`);
    out.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...out);
}

/** Every `xn--` label of `domain` decoded to Unicode, the others unchanged. */
export function domainToUnicode(domain: string): string {
  return domain.split(".").map((label) =>
    label.startsWith(ACE_PREFIX) ? punycodeDecode(label.slice(ACE_PREFIX.length)) : label
  ).join(".");
}

/** Every label of `domain` with non-ASCII characters encoded as `xn--` Punycode. */
export function domainToAscii(domain: string): string {
  return domain.split(".").map((label) =>
    /[^\p{ASCII}]/u.test(label) ? ACE_PREFIX + punycodeEncode(label) : label
  ).join(".");
}
