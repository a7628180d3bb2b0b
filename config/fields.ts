/**
 * Typed configuration fields: one environment key, how its text is parsed, its default, whether it
 * is a secret. A parse failure names the key and what was expected:
 *   `STRATA_PARTITIONS: expected a positive integer, got "abc"`.
 * Pure code: nothing here reads the environment (load-config.ts does, from the map it is given).
 */
import { maskServiceUrl } from "./redact.ts";

export { maskServiceUrl, maskUrlPassword } from "./redact.ts";

export class ConfigError extends Error {
  /** Every problem found, each `KEY: expected …, got "…"`. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join("; "));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Thrown by a parser; the loader prefixes the key. */
export class FieldParseError extends Error {
  constructor(readonly expected: string, readonly got: string) {
    super(`expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = "FieldParseError";
  }
}

export interface Field<T> {
  /** Environment key, e.g. `STRATA_PARTITIONS`. */
  readonly env: string;
  /** What a valid value looks like (used in errors and docs), e.g. `a positive integer`. */
  readonly expected: string;
  readonly description: string;
  readonly parse: (raw: string) => T;
  /** Used when neither a flag nor the environment gives a value; absent = undefined. */
  readonly default?: T;
  /** A value that must be given (no default); missing is a ConfigError. */
  readonly required?: boolean;
  /** Never printed: logs, `describe()` and `strata status` show `[Redacted]`; log lines scrub the value. */
  readonly secret?: boolean;
  /** How a value is shown to people when it differs from its text (a URL field: maskServiceUrl). */
  shownAs?(value: T): string;
  /**
   * The value written as its key's text, when `String(value)` is not that (basisPoints: 2500 →
   * `0.25`): what `describe()` / `strata config` print, so a shown default can be typed back.
   * Unlike `shownAs` it hides nothing (it adds no scrub literal).
   */
  asText?(value: T): string;
}

/** Optional field (no default) → T | undefined; field with a default or required → T. */
export type FieldValue<F> = F extends Field<infer T> ? (F extends { default: unknown } | { required: true } ? T : T | undefined) : never;

interface Common<T> {
  description?: string;
  default?: T;
  required?: boolean;
  secret?: boolean;
}

function make<T, const O extends Common<T>>(env: string, expected: string, parse: (raw: string) => T, opts: O): Field<T> & O {
  if (!/^[A-Z][A-Z0-9_]*$/.test(env)) throw new TypeError(`config key ${JSON.stringify(env)} must be UPPER_SNAKE_CASE`);
  return { env, expected, parse, description: opts.description ?? "", ...opts } as Field<T> & O;
}

/** Basis points as the decimal rate they stand for: 2500 → "0.25", 10000 → "1" (basisPoints' inverse). */
export function bpsToRate(bps: number): string {
  const frac = String(bps % 10_000).padStart(4, "0").replace(/0+$/, "");
  const whole = Math.floor(bps / 10_000);
  return frac === "" ? String(whole) : `${whole}.${frac}`;
}

function fail(expected: string, raw: string): never {
  throw new FieldParseError(expected, raw);
}

function parseInteger(raw: string, min: number, max: number, expected: string): number {
  const text = raw.trim();
  if (!/^-?\d+$/.test(text)) fail(expected, raw);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(expected, raw);
  return n;
}

export const field = {
  string<const O extends Common<string>>(env: string, opts: O = {} as O) {
    return make(env, "a non-empty string", (raw) => raw, opts);
  },

  /** An integer in [min, max]. */
  int<const O extends Common<number> & { min?: number; max?: number }>(env: string, opts: O = {} as O) {
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    const expected =
      min === 1 && max === Number.MAX_SAFE_INTEGER ? "a positive integer"
      : min === 0 && max === Number.MAX_SAFE_INTEGER ? "a non-negative integer"
      : `an integer from ${min} to ${max}`;
    return make(env, expected, (raw) => parseInteger(raw, min, max, expected), opts);
  },

  positiveInt<const O extends Common<number>>(env: string, opts: O = {} as O) {
    return field.int(env, { ...opts, min: 1 });
  },

  /** A TCP port, 0 (any free port) to 65535. */
  port<const O extends Common<number>>(env: string, opts: O = {} as O) {
    const expected = "a port number from 0 to 65535";
    return make(env, expected, (raw) => parseInteger(raw, 0, 65535, expected), opts);
  },

  /** A non-negative whole amount (wei, gas) as a bigint: decimal digits only, never through number. */
  uint256<const O extends Common<bigint>>(env: string, opts: O = {} as O) {
    const expected = "a non-negative whole number (decimal digits)";
    return make(env, expected, (raw) => {
      const text = raw.trim().replace(/_/g, "");
      if (!/^\d+$/.test(text)) fail(expected, raw);
      const v = BigInt(text);
      if (v >= 2n ** 256n) fail(expected, raw);
      return v;
    }, opts);
  },

  /** A decimal fraction from 0 to 1 with at most 4 decimal places, returned exactly as basis points (0.25 → 2500). */
  basisPoints<const O extends Common<number>>(env: string, opts: O = {} as O) {
    const expected = "a decimal from 0 to 1 with at most 4 decimal places";
    return make(env, expected, (raw) => {
      const m = /^(0|1)(?:\.(\d{1,4}))?$/.exec(raw.trim());
      if (!m) fail(expected, raw);
      const bps = Number(m[1]) * 10_000 + Number((m[2] ?? "").padEnd(4, "0"));
      if (bps > 10_000) fail(expected, raw);
      return bps;
    }, { asText: bpsToRate, ...opts });
  },

  boolean<const O extends Common<boolean>>(env: string, opts: O = {} as O) {
    const expected = "true or false (also 1/0, yes/no)";
    return make(env, expected, (raw) => {
      const t = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(t)) return true;
      if (["false", "0", "no", "off"].includes(t)) return false;
      return fail(expected, raw);
    }, opts);
  },

  /** One of a fixed set of words. */
  oneOf<const V extends string, const O extends Common<V>>(env: string, values: readonly V[], opts: O = {} as O) {
    const expected = `one of ${values.join(", ")}`;
    return make(env, expected, (raw) => {
      const t = raw.trim();
      if (!(values as readonly string[]).includes(t)) fail(expected, raw);
      return t as V;
    }, opts);
  },

  /** Comma-separated list; blanks dropped; when `values` is given every item must be one of them. */
  list<const O extends Common<readonly string[]> & { values?: readonly string[] }>(env: string, opts: O = {} as O) {
    const expected = opts.values ? `a comma-separated list of ${opts.values.join(", ")}` : "a comma-separated list of names";
    return make(env, expected, (raw) => {
      const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (items.length === 0) fail(expected, raw);
      if (opts.values && items.some((i) => !opts.values!.includes(i))) fail(expected, raw);
      return Object.freeze([...new Set(items)]) as readonly string[];
    }, opts);
  },

  /**
   * A URL whose scheme is one of `protocols` (e.g. ["postgres:", "postgresql:"]). Shown to people
   * (describe, errors) as maskServiceUrl: its userinfo, path and query may carry a credential.
   */
  url<const O extends Common<string>>(env: string, protocols: readonly string[], opts: O = {} as O) {
    const expected = `a URL starting with ${protocols.map((p) => p + "//").join(" or ")}`;
    const parse = (raw: string) => {
      let u: URL;
      try {
        u = new URL(raw.trim());
      } catch {
        return fail(expected, maskServiceUrl(raw));
      }
      if (!protocols.includes(u.protocol)) fail(expected, maskServiceUrl(raw));
      return raw.trim();
    };
    return make(env, expected, parse, { shownAs: maskServiceUrl, ...opts });
  },
};
