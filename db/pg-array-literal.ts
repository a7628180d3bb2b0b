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
