/**
 * JSON the way Go's encoding/json writes and reads it, so broker messages match the Go
 * peers byte for byte (docs/BROKER.md, "Messages").
 *
 * @module
 */

const GO_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * `JSON.stringify` plus Go's HTML-safe escaping of `<`, `>`, `&`, U+2028 and U+2029 (those
 * characters can only occur inside JSON strings, so replacing them everywhere is exact).
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]!);
}

/** Parses a JSON object; SyntaxError for bad JSON, TypeError when it is not an object. */
export function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`expected a JSON object, got ${value === null ? "null" : typeof value}`);
  }
  return value as Record<string, unknown>;
}

/**
 * A field as Go's decoder finds it: the exact key first, then any key equal to it ignoring
 * case (Go matches struct fields case-insensitively).
 */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

/** A string field ("" when absent or null, as Go's zero value); TypeError for another type. */
export function stringField(obj: Record<string, unknown>, name: string): string {
  const v = field(obj, name);
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new TypeError(`field ${name} must be a string`);
  return v;
}

/** A string field that may be absent (undefined) — Go's `*string`. */
export function optionalStringField(
  obj: Record<string, unknown>,
  name: string,
): string | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new TypeError(`field ${name} must be a string`);
  return v;
}

/** An integer field (0 when absent or null); TypeError for a non-integer. */
export function intField(obj: Record<string, unknown>, name: string): number {
  const v = field(obj, name);
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new TypeError(`field ${name} must be an integer`);
  }
  return v;
}
