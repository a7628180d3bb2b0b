/**
 * Array parameters as PostgreSQL array literals, built without pg's per-element regex escaping.
 *
 * pg serialises a JS array parameter element by element (`prepareValue`, then two regex
 * replaces and quotes): on the batch paths (unnest of thousands of keys and amounts per
 * statement) that was ~7% of the process's CPU in `npm run bench -- vault-term`. Text, numbers,
 * bigints and booleans — all the batch paths pass — are written here the way pg writes them
 * (`"…"`, `\` and `"` escaped, `NULL` for null/undefined, nested arrays nested); an array with any
 * other element (Buffer, Date, object) is returned unchanged for pg to serialise.
 */
export function pgArrayLiteral(values: readonly unknown[]): string | readonly unknown[] {
  const plain = plainTextLiteral(values);
  if (plain !== null) return plain;
  if (jsonSafe(values)) {
    // JSON's escapes of `"` and `\` are the array literal's, `null` unquoted is NULL, and
    // JSON.stringify builds one flat string natively (string concatenation allocated ~5× more).
    const json = JSON.stringify(values);
    return "{" + json.slice(1, -1) + "}";
  }
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    const v = values[i];
    if (v === null || v === undefined) {
      out += "NULL";
    } else if (typeof v === "string") {
      out += v.includes("\\") || v.includes('"') ? '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"' : '"' + v + '"';
    } else if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") {
      out += '"' + String(v) + '"';
    } else if (Array.isArray(v)) {
      const inner = pgArrayLiteral(v);
      if (typeof inner !== "string") return values;
      out += inner;
    } else {
      return values;
    }
  }
  return out + "}";
}

/**
 * The literal of a flat array of text and nulls in which JSON.stringify escaped nothing, else
 * null (the caller then decides as before). Every escape lengthens the output, so "nothing
 * escaped" is a length comparison instead of a regex run over each element: the same literal
 * as the JSON path, and for text alone the same as the element-wise path. A valid surrogate pair
 * is not escaped, but the element-wise path takes it (jsonSafe): with a null beside it the two
 * paths differ (`NULL` / `null`), so then the output is searched for one.
 */
function plainTextLiteral(values: readonly unknown[]): string | null {
  if (values.length === 0) return null;
  let expected = values.length + 1; // brackets and commas
  let nulls = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "string") expected += v.length + 2;
    else if (v === null) {
      expected += 4;
      nulls = true;
    } else return null;
  }
  const json = JSON.stringify(values);
  if (json.length !== expected || (nulls && SURROGATE.test(json))) return null;
  return "{" + json.slice(1, -1) + "}";
}

const SURROGATE = /[\ud800-\udfff]/;

/** Characters JSON.stringify escapes differently from an array literal (controls, surrogates). */
const JSON_UNSAFE = /[\u0000-\u001f\ud800-\udfff]/;

/** A flat array of text without control characters or surrogates, finite numbers and nulls. */
function jsonSafe(values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "string") {
      if (JSON_UNSAFE.test(v)) return false;
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) return false;
    } else if (v !== null) {
      return false;
    }
  }
  return true;
}

/** Parameters with every array parameter as its literal (see pgArrayLiteral). */
export function withArrayLiterals(params: readonly unknown[] | undefined): unknown[] | undefined {
  if (!params) return undefined;
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (Array.isArray(p)) {
      out ??= params.slice();
      out[i] = pgArrayLiteral(p);
    }
  }
  return out ?? (params as unknown[]);
}
