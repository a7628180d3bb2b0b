/**
 * Small helpers for the stores' batch statements: values passed as `unnest` arrays (one
 * statement per batch; multi-row VALUES with thousands of parameters is slow on PGlite), and
 * the text PostgreSQL refuses.
 *
 * PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses a lone UTF-16 surrogate
 * (`\ud800` without its pair). JSON.stringify writes both as `\u` escapes, so they are found
 * (and, for dead letters, replaced by U+FFFD) in the JSON text before it reaches the database.
 */

/** JSON text for a jsonb parameter; bigints become decimal strings (amounts are never numbers). */
export function jsonText(value: unknown): string {
  let text: string | undefined;
  try {
    // No replacer first: calling one per key costs more than the whole stringify. JSON.stringify
    // throws a TypeError on the first bigint it meets; only then is the replacer needed.
    text = JSON.stringify(value === undefined ? null : value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  }
  return text === undefined ? "null" : text;
}

// A `\u0000` or `\ud800`–`\udfff` escape that is not itself an escaped backslash followed by `u…`.
const BAD_JSON_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})/g;

/** Why PostgreSQL would refuse this JSON text as jsonb, or null when it is fine. */
export function jsonbProblem(text: string): string | null {
  if (!text.includes("\\u")) return null;
  BAD_JSON_ESCAPE.lastIndex = 0;
  const m = BAD_JSON_ESCAPE.exec(text);
  if (!m) return null;
  return m[2] === "0000" ? "contains U+0000, which PostgreSQL cannot store" : "contains a lone UTF-16 surrogate, which PostgreSQL cannot store";
}

/** The JSON text with every U+0000 and lone surrogate replaced by U+FFFD. */
export function sanitizeJsonbText(text: string): string {
  return text.replace(BAD_JSON_ESCAPE, "$1\\ufffd");
}

// U+0000, or a UTF-16 surrogate without its pair.
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_TEXT_ALL = new RegExp(UNSTORABLE_TEXT.source, "g");

/**
 * Why PostgreSQL could not hold this string as text as it is, or null when it can: it refuses
 * U+0000, and the drivers turn a lone surrogate into U+FFFD (a key stored so would differ from
 * the one received).
 */
export function textProblem(value: string): string | null {
  const m = UNSTORABLE_TEXT.exec(value);
  if (!m) return null;
  return m[0] === "\u0000" ? "contains U+0000, which PostgreSQL cannot store" : "contains a lone UTF-16 surrogate, which PostgreSQL cannot store";
}

/** The string with U+0000 and lone surrogates replaced by U+FFFD. */
export function sanitizeText(value: string): string {
  return value.replace(UNSTORABLE_TEXT_ALL, "\ufffd");
}

/** Distinct values, sorted (stable lock order across concurrent transactions). */
export function distinctSorted<T extends string | number>(values: Iterable<T>): T[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A bigint-valued input (bigint, safe integer or decimal string) as a decimal string, or null. */
export function int8Text(value: bigint | number | string | null | undefined, what: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${what}: ${value} is not a safe integer`);
    return String(value);
  }
  if (!/^-?\d{1,19}$/.test(value)) throw new RangeError(`${what}: ${JSON.stringify(value)} is not a decimal integer`);
  return value;
}

/** An INT8 column (a string from both engines) as a number; it must be a safe integer. */
export function int8ToNumber(value: string | number | bigint, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what}: ${String(value)} is beyond the safe integer range`);
  return n;
}
