/** Pure helpers of the batch statements: JSON text for jsonb, text PostgreSQL refuses, INT8 values. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pgArrayLiteral, withArrayLiterals } from "../../db/pg-array-literal.ts";
import { distinctSorted, int8Text, int8ToNumber, jsonbProblem, jsonText, sanitizeJsonbText, sanitizeText, textProblem } from "../../db/sql.ts";

test("sql - jsonText writes bigints as decimal strings and undefined as null", () => {
  assert.is(jsonText({ a: 12345678901234567890n, b: [1n] }), '{"a":"12345678901234567890","b":["1"]}');
  assert.is(jsonText(undefined), "null");
  assert.is(jsonText("x"), '"x"');
});

test("sql - jsonbProblem finds U+0000 and lone surrogates, not an escaped backslash before u0000", () => {
  assert.match(jsonbProblem(jsonText({ s: "a\u0000" })) ?? "", /U\+0000/);
  assert.match(jsonbProblem(jsonText(["\udc00"])) ?? "", /surrogate/);
  assert.is(jsonbProblem(jsonText({ s: "\\u0000" })), null);
  assert.is(jsonbProblem(jsonText({ s: "😀 pair" })), null);
  assert.match(jsonbProblem(jsonText({ s: "\\\u0000" })) ?? "", /U\+0000/, "backslash then a real NUL");
});

test("sql - sanitizing replaces what PostgreSQL refuses by U+FFFD and keeps the rest", () => {
  assert.equal(JSON.parse(sanitizeJsonbText(jsonText({ s: "a\u0000b\ud800", t: "\\u0000", u: "😀" }))), { s: "a\ufffdb\ufffd", t: "\\u0000", u: "😀" });
  assert.is(sanitizeText("x\u0000y\udc00z😀"), "x\ufffdy\ufffdz😀");
  assert.match(textProblem("a\u0000") ?? "", /U\+0000/);
  assert.is(textProblem("fine"), null);
});

test("sql - INT8 values in and out", () => {
  assert.is(int8Text(2n ** 63n - 1n, "x"), "9223372036854775807");
  assert.is(int8Text(42, "x"), "42");
  assert.is(int8Text("-7", "x"), "-7");
  assert.is(int8Text(null, "x"), null);
  assert.throws(() => int8Text(1.5, "blockNumber"), /blockNumber: 1.5 is not a safe integer/);
  assert.throws(() => int8Text("12a", "blockNumber"), /not a decimal integer/);
  assert.is(int8ToNumber("9007199254740991", "seq"), 9007199254740991);
  assert.throws(() => int8ToNumber("9007199254740993", "seq"), /seq: 9007199254740993 is beyond the safe integer range/);
});

test("sql - distinctSorted gives one of each in a stable order", () => {
  assert.equal(distinctSorted(["b", "a", "b"]), ["a", "b"]);
  assert.equal(distinctSorted([10, 2, 2, 1]), [1, 2, 10]);
});

test("sql - pgArrayLiteral writes what pg writes for text, numbers, null and nested arrays; other elements are left to pg", () => {
  assert.is(pgArrayLiteral(["a", 'b"c', "d\\e", null, undefined, 7, 8n, true]), '{"a","b\\"c","d\\\\e",NULL,NULL,"7","8","true"}');
  assert.is(pgArrayLiteral([["x"], []]), '{{"x"},{}}');
  const withBuffer = [Buffer.from("ab")];
  assert.is(pgArrayLiteral(withBuffer), withBuffer);
  const params = [1, ["a"], "s"];
  assert.equal(withArrayLiterals(params), [1, '{"a"}', "s"]);
  assert.equal(params, [1, ["a"], "s"], "the caller's parameters are not changed");
  assert.is(withArrayLiterals(undefined), undefined);
});

test("sql - pgArrayLiteral's JSON path and its element-wise path agree on what PostgreSQL reads", () => {
  // Flat text/number/null arrays take JSON.stringify; a control character, a surrogate, a bigint
  // or undefined takes the element-wise path.
  assert.is(pgArrayLiteral(["a", 'b"c', "d\\e", null, 7, -1.5]), '{"a","b\\"c","d\\\\e",null,7,-1.5}');
  assert.is(pgArrayLiteral(["x\ny"]), '{"x\ny"}');
  assert.is(pgArrayLiteral(["😀"]), '{"😀"}');
  assert.is(pgArrayLiteral([undefined, 1n]), '{NULL,"1"}');
  assert.is(pgArrayLiteral([NaN]), '{"NaN"}');
});

/** pgArrayLiteral as it was before the length check (jsonSafe's regex over every element). */
function literalBeforeLengthCheck(values: readonly unknown[]): string | readonly unknown[] {
  const safe = values.every((v) => (typeof v === "string" ? !/[\u0000-\u001f\ud800-\udfff]/.test(v) : typeof v === "number" ? Number.isFinite(v) : v === null));
  if (safe) return "{" + JSON.stringify(values).slice(1, -1) + "}";
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    const v = values[i];
    if (v === null || v === undefined) out += "NULL";
    else if (typeof v === "string") out += '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
    else if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") out += '"' + String(v) + '"';
    else return values;
  }
  return out + "}";
}

test("sql - pgArrayLiteral's length check gives byte for byte the literal of the regex check", () => {
  const pieces = ["a", "0x5A", "", '"', "\\", "\n", "\u0000", "\u001f", "😀", "\ud800", "\udfff", "é", " ", ",", "{", "NULL"];
  const others: unknown[] = [null, null, 7, -1.5, NaN, undefined, 3n];
  let seed = 12345;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const cases: unknown[][] = [[], [""], [null], ["😀", null], ["😀"], ["a", null, "b"], ['"', null], ["\ud800", "x"]];
  for (let c = 0; c < 3000; c++) {
    const row: unknown[] = [];
    const len = next(6);
    for (let i = 0; i < len; i++) {
      if (next(4) === 0) row.push(others[next(c % 3 === 0 ? others.length : 2)]);
      else {
        let s = "";
        for (let k = next(4); k > 0; k--) s += pieces[next(c % 2 === 0 ? 2 : pieces.length)];
        row.push(s);
      }
    }
    cases.push(row);
  }
  for (const values of cases) assert.equal(pgArrayLiteral(values), literalBeforeLengthCheck(values), values.map((v) => `${typeof v}:${String(v)}`).join("|"));
});

test.run();
